package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/flowbin/flowbin/internal/apitest"
	"github.com/flowbin/flowbin/store/storetest"
)

// eventOf is an event payload as a receiver reads it.
type eventOf struct {
	Type string `json:"type"`
	Data struct {
		ID                    string             `json:"id"`
		FlowID                string             `json:"flow_id"`
		Status                string             `json:"status"`
		EndReason             string             `json:"end_reason"`
		ReferenceType         string             `json:"reference_type"`
		ReferenceID           string             `json:"reference_id"`
		ReferenceActiveflowID string             `json:"reference_activeflow_id"`
		OnCompleteFlowID      string             `json:"on_complete_flow_id"`
		ForwardActionID       string             `json:"forward_action_id"`
		Variables             *map[string]string `json:"variables"`
		CurrentAction         struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Step int    `json:"step"`
		} `json:"current_action"`
		TMCreate string `json:"tm_create"`
		TMUpdate string `json:"tm_update"`
		TMDelete string `json:"tm_delete"`
	} `json:"data"`
}

// short is an event in a few words: its type and what it says of the activeflow, as in
// "updated:talk", "updated:ended/hangup", "created", "deleted".
func (ev eventOf) short() string {
	typ := strings.TrimPrefix(ev.Type, "activeflow_")
	switch {
	case ev.Data.Status == "ended":
		return typ + ":ended/" + ev.Data.EndReason
	case ev.Data.CurrentAction.Type != "":
		return typ + ":" + ev.Data.CurrentAction.Type
	}
	return typ
}

// activeflowEvents reads the events an activeflow's changes wrote to the outbox, in order, each checked against
// openapi.yaml's ActiveflowEvent.
func (e *env) activeflowEvents(t *testing.T, u user, id string) []eventOf {
	t.Helper()
	msgs, err := e.st.ListOutbox(context.Background(), uuid.MustParse(u.customerID), uuid.MustParse(id), 1000)
	if err != nil {
		t.Fatal(err)
	}
	schema := apitest.MustLoad().Spec().Components.Schemas["ActiveflowEvent"].Value
	var out []eventOf
	for _, m := range msgs {
		if !strings.HasPrefix(m.EventType, "activeflow_") {
			continue
		}
		var doc any
		if err := json.Unmarshal([]byte(m.Payload), &doc); err != nil {
			t.Fatalf("payload %s: %v", m.Payload, err)
		}
		if err := schema.VisitJSON(doc, openapi3.MultiErrors()); err != nil {
			t.Errorf("payload %s does not follow ActiveflowEvent: %v", m.Payload, err)
		}
		var ev eventOf
		if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != m.EventType || ev.Data.ID != id {
			t.Errorf("message %s of %s holds %s of %s", m.EventType, id, ev.Type, ev.Data.ID)
		}
		out = append(out, ev)
	}
	return out
}

func shorts(evs []eventOf) string {
	s := make([]string, len(evs))
	for i, ev := range evs {
		s[i] = ev.short()
	}
	return strings.Join(s, " ")
}

// TestEventsOfEveryEnding: an activeflow's events, as VoIPbin sends them, for every way it can end: created at
// the start, updated for every action it moves to (control actions included) and once more when it ends (also
// inside its start, and for the activeflows on_complete_flow_id starts), deleted on delete; in VoIPbin's payload
// shape with its defaults, and without variables unless the customer asks.
func TestEventsOfEveryEnding(t *testing.T) {
	const zero = "00000000-0000-0000-0000-000000000000"
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": "https://example.com/hooks"}).wantStatus(http.StatusOK)
		next := func(a apiActiveflow) apiActiveflow { return e.next(e.alice, a, map[string]string{"pin": "1234"}) }
		chained := e.createFlow(e.alice, `{"name":"after","actions":[{"type":"variable_set","option":{"key":"k","value":"v"}},{"type":"stop"}]}`)
		cases := []struct {
			name, body string
			drive      func(a apiActiveflow) string // answers the activeflow whose events to read (a's by default)
			want       string
		}{
			{"finished", `{"actions":[{"type":"talk","option":{"text":"hi"}}]}`,
				func(a apiActiveflow) string { next(a); return "" },
				"created updated:talk updated:ended/finished"},
			{"stop action", `{"actions":[{"type":"answer"},{"type":"variable_set","option":{"key":"x","value":"1"}},{"type":"stop"},{"type":"talk","option":{"text":"never"}}]}`,
				func(a apiActiveflow) string { next(a); return "" },
				"created updated:answer updated:variable_set updated:stop updated:ended/stop"},
			{"ended inside its start", `{"actions":[{"type":"variable_set","option":{"key":"x","value":"1"}},{"type":"stop"}]}`, nil,
				"created updated:variable_set updated:stop updated:ended/stop"},
			{"hangup", `{"actions":[{"type":"answer"},{"type":"hangup"}]}`,
				func(a apiActiveflow) string { next(next(a)); return "" },
				"created updated:answer updated:hangup updated:ended/hangup"},
			{"a limit", `{"actions":[{"type":"fetch","option":{"event_url":"http://127.0.0.1:1/actions"}}]}`, nil,
				"created updated:fetch updated:ended/fetch_failed"},
			{"stopped", `{"actions":[{"type":"talk","option":{"text":"hi"}}]}`,
				func(a apiActiveflow) string {
					e.as(e.alice, "POST", "/v1.0/activeflows/"+a.ID+"/stop", nil).wantStatus(http.StatusOK)
					e.as(e.alice, "POST", "/v1.0/activeflows/"+a.ID+"/stop", nil).wantStatus(http.StatusOK) // changes nothing
					return ""
				},
				"created updated:talk updated:ended/stopped"},
			{"deleted while it runs", `{"actions":[{"type":"talk","option":{"text":"hi"}}]}`,
				func(a apiActiveflow) string {
					e.as(e.alice, "DELETE", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusNoContent)
					return ""
				},
				"created updated:talk updated:ended/stopped deleted:ended/stopped"},
			{"deleted once ended", `{"actions":[{"type":"talk","option":{"text":"hi"}}]}`,
				func(a apiActiveflow) string {
					next(a)
					e.as(e.alice, "DELETE", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusNoContent)
					return ""
				},
				"created updated:talk updated:ended/finished deleted:ended/finished"},
			{"chained", `{"actions":[{"type":"talk","option":{"text":"hi"}}],"on_complete_flow_id":"` + chained.ID + `"}`,
				func(a apiActiveflow) string {
					next(a)
					var ended apiActiveflow
					e.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusOK).decode(&ended)
					if ended.OnCompleteActiveflowID == "" {
						t.Fatalf("no chained activeflow: %+v", ended)
					}
					return ended.OnCompleteActiveflowID
				},
				"created updated:variable_set updated:stop updated:ended/stop"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				a := e.startActiveflow(e.alice, c.body)
				id := a.ID
				if c.drive != nil {
					if other := c.drive(a); other != "" {
						id = other
					}
				}
				evs := e.activeflowEvents(t, e.alice, id)
				if got := shorts(evs); got != c.want {
					t.Fatalf("events %q, want %q", got, c.want)
				}
				for i, ev := range evs {
					d := ev.Data
					if d.ReferenceType != "api" || d.ReferenceID != zero || d.ForwardActionID != zero || d.OnCompleteFlowID == "" {
						t.Errorf("event %d: VoIPbin's defaults: %+v", i, d)
					}
					if d.Variables != nil {
						t.Errorf("event %d carries variables the customer did not ask for: %v", i, *d.Variables)
					}
					switch {
					case ev.Type == "activeflow_created" && d.CurrentAction.ID != "00000000-0000-0000-0000-000000000001":
						t.Errorf("created: current_action %+v, want VoIPbin's start marker", d.CurrentAction)
					case d.Status == "ended" && d.CurrentAction.ID != "00000000-0000-0000-0000-000000000002":
						t.Errorf("%s: current_action %+v, want VoIPbin's finish marker", ev.short(), d.CurrentAction)
					case ev.Type == "activeflow_updated" && d.Status == "running" && d.CurrentAction.Step != i:
						t.Errorf("%s is step %d, want %d", ev.short(), d.CurrentAction.Step, i)
					}
					if d.TMCreate == "" || (ev.Type == "activeflow_created") != (d.TMUpdate == "") {
						t.Errorf("%s: tm_create %q, tm_update %q", ev.short(), d.TMCreate, d.TMUpdate)
					}
					if ev.Type == "activeflow_deleted" && d.TMDelete == "" {
						t.Errorf("deleted without tm_delete: %+v", d)
					}
				}
				if c.name == "chained" {
					if d := evs[0].Data; d.ReferenceActiveflowID != a.ID || d.FlowID != chained.ID || d.OnCompleteFlowID != zero {
						t.Errorf("chained: %+v", d)
					}
				} else if d := evs[0].Data; d.ReferenceActiveflowID != zero || d.FlowID != zero {
					t.Errorf("inline actions: %+v", d)
				}
			})
		}

		// The customer asks for variables: its events carry them.
		var c struct {
			EventVariables *bool `json:"event_variables"`
		}
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": "https://example.com/hooks", "event_variables": true}).
			wantStatus(http.StatusOK).decode(&c)
		if c.EventVariables == nil || !*c.EventVariables {
			t.Fatalf("customer %+v", c)
		}
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": "https://example.com/hooks"}).wantStatus(http.StatusOK).decode(&c)
		if !*c.EventVariables {
			t.Fatalf("a PUT without event_variables changed it: %+v", c)
		}
		a := e.startActiveflow(e.alice, `{"actions":[{"type":"talk","option":{"text":"hi"}}],"variables":{"who":"ana"}}`)
		next(a)
		for _, ev := range e.activeflowEvents(t, e.alice, a.ID) {
			if v := ev.Data.Variables; v == nil || (*v)["who"] != "ana" {
				t.Errorf("%s: variables %v", ev.short(), v)
			}
			if ev.Data.Status == "ended" && (*ev.Data.Variables)["pin"] != "1234" {
				t.Errorf("the end's event has the variables after the step: %v", *ev.Data.Variables)
			}
		}
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": "https://example.com/hooks", "event_variables": false}).wantStatus(http.StatusOK)
		b2 := e.startActiveflow(e.alice, `{"actions":[{"type":"talk","option":{"text":"hi"}}],"variables":{"who":"ana"}}`)
		for _, ev := range e.activeflowEvents(t, e.alice, b2.ID) {
			if ev.Data.Variables != nil {
				t.Errorf("%s: variables after the customer turned them off", ev.short())
			}
		}
	})
}
