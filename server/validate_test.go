package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/internal/apitest"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

type validationReport struct {
	Valid    bool          `json:"valid"`
	Errors   []errorDetail `json:"errors"`
	Warnings []errorDetail `json:"warnings"`
}

// fiveProblems has five different problems, in this document order.
const fiveProblems = `{
	"name": "five problems",
	"actions": [
		{"id": "start", "type": "answer"},
		{"type": "tlak", "option": {"text": "hi"}},
		{"type": "goto", "option": {"target_id": "start", "loop_count": 9999}},
		{"id": "start", "type": "hangup"},
		{"type": "goto", "option": {"target_id": "nowhere", "loop_count": 1}}
	],
	"on_complete_flow_id": "6b1f0c3e-8f5a-4c1d-9e2b-7a3c4d5e6f70"
}`

var fiveReasons = []struct{ reason, pointer string }{
	{flow.ReasonInvalidActionType, "/actions/1/type"},
	{flow.ReasonInvalidActionOption, "/actions/2/option/loop_count"},
	{flow.ReasonDuplicateActionID, "/actions/3/id"},
	{flow.ReasonInvalidActionTarget, "/actions/4/option/target_id"},
	{flow.ReasonInvalidFlowReference, "/on_complete_flow_id"},
}

func TestFiveProblemsInOneAnswer(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		check := func(what string, details []errorDetail) {
			t.Helper()
			if len(details) != len(fiveReasons) {
				t.Fatalf("%s: got %d problems, want %d: %+v", what, len(details), len(fiveReasons), details)
			}
			for i, w := range fiveReasons {
				if details[i].Reason != w.reason || details[i].Pointer != w.pointer || details[i].Message == "" {
					t.Errorf("%s %d: got %+v, want %s at %s", what, i, details[i], w.reason, w.pointer)
				}
			}
		}
		created := e.as(e.alice, "POST", "/v1.0/flows", fiveProblems).wantError(http.StatusBadRequest, flow.ReasonInvalidActionType)
		check("create", created.Details)
		existing := e.createFlow(e.alice, `{"name":"x"}`)
		updated := e.as(e.alice, "PUT", "/v1.0/flows/"+existing.ID, fiveProblems).wantError(http.StatusBadRequest, flow.ReasonInvalidActionType)
		check("update", updated.Details)

		var rep validationReport
		e.as(e.alice, "POST", "/v1.0/flows/validate", fiveProblems).wantStatus(http.StatusOK).decode(&rep)
		if rep.Valid {
			t.Errorf("validate: valid is true")
		}
		check("validate", rep.Errors)

		var list apiFlowList
		e.as(e.alice, "GET", "/v1.0/flows", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 1 {
			t.Errorf("an invalid flow was stored: %d flows", len(list.Result))
		}
	})
}

func TestValidateStoresNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		var rep validationReport
		e.as(e.alice, "POST", "/v1.0/flows/validate", `{"name":"ok","actions":[{"type":"answer"},{"type":"stop"},{"type":"beep"}]}`).
			wantStatus(http.StatusOK).decode(&rep)
		if !rep.Valid || len(rep.Errors) != 0 || len(rep.Warnings) != 1 || rep.Warnings[0].Reason != flow.WarnUnreachableAction {
			t.Errorf("got %+v, want valid with one UNREACHABLE_ACTION warning", rep)
		}
		if rep.Errors == nil || strings.Contains(string(mustJSON(t, rep)), `"errors":null`) {
			t.Errorf("errors must be [] rather than null")
		}
		// An object with wrong types is a report; something that is not a JSON object at all is a bad request.
		e.as(e.alice, "POST", "/v1.0/flows/validate", `{"name":7,"actions":{}}`).wantStatus(http.StatusOK).decode(&rep)
		if rep.Valid || len(rep.Errors) != 2 || rep.Errors[0].Pointer != "/name" {
			t.Errorf("wrong types: got %+v", rep)
		}
		e.as(e.alice, "POST", "/v1.0/flows/validate", `{"actions":[`).wantError(http.StatusBadRequest, flow.ReasonInvalidJSON)
		e.as(e.alice, "POST", "/v1.0/flows/validate", `[]`).wantError(http.StatusBadRequest, flow.ReasonInvalidBody)
		var list apiFlowList
		e.as(e.alice, "GET", "/v1.0/flows", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 0 {
			t.Errorf("validate stored %d flows", len(list.Result))
		}
		// It needs credentials like everything else, and checks references against the caller's flows only.
		e.do("POST", "/v1.0/flows/validate", `{}`).wantError(http.StatusUnauthorized, "AUTHENTICATION_REQUIRED")
		bobs := e.createFlow(e.bob, `{"name":"bob's"}`)
		e.as(e.alice, "POST", "/v1.0/flows/validate", `{"on_complete_flow_id":"`+bobs.ID+`"}`).wantStatus(http.StatusOK).decode(&rep)
		if rep.Valid || rep.Errors[0].Reason != flow.ReasonInvalidFlowReference {
			t.Errorf("another customer's flow: got %+v", rep)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEveryActionTypeRoundTripsThroughTheStore stores an action of every type with every option set and reads
// it back unchanged, on both stores.
func TestEveryActionTypeRoundTripsThroughTheStore(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		target := e.createFlow(e.alice, `{"name":"target"}`)
		const anchor = "9461bda1-54fd-4e27-ab04-4186c6f72830"
		acts := []any{map[string]any{"id": anchor, "type": "answer"}}
		var sent []json.RawMessage
		for _, ty := range flow.Types() {
			opt, err := apitest.OptionExample(contract.Spec(), ty, anchor)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"flow_id", "on_end_flow_id"} {
				if _, ok := opt[name]; ok {
					opt[name] = target.ID // a live flow of the caller
				}
			}
			raw := mustJSON(t, opt)
			sent = append(sent, raw)
			acts = append(acts, map[string]any{"id": uuid.NewString(), "type": ty, "option": json.RawMessage(raw)})
		}
		created := e.createFlow(e.alice, map[string]any{"name": "every type", "actions": acts})
		var got apiFlow
		e.as(e.alice, "GET", "/v1.0/flows/"+created.ID, nil).wantStatus(http.StatusOK).decode(&got)
		for i, ty := range flow.Types() {
			a := got.Actions[i+1]
			if a.Type != string(ty) || !jsonEqual(decodeAny(t, a.Option), decodeAny(t, sent[i])) {
				t.Errorf("%s: got %s, want %s", ty, a.Option, sent[i])
			}
		}
	})
}

func TestActionLimitIsConfigurable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, func(c *server.Config) { c.MaxActions = 3 })
	e.createFlow(e.alice, `{"actions":[{"type":"answer"},{"type":"answer"},{"type":"answer"}]}`)
	errBody := e.as(e.alice, "POST", "/v1.0/flows", `{"actions":[{"type":"answer"},{"type":"answer"},{"type":"answer"},{"type":"answer"}]}`).
		wantError(http.StatusBadRequest, flow.ReasonTooManyActions)
	if errBody.Details[0].Pointer != "/actions" {
		t.Errorf("got %+v", errBody.Details)
	}
}

func TestBodyLimitIsConfigurable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, func(c *server.Config) { c.MaxBodyBytes = 2048 })
	e.as(e.alice, "POST", "/v1.0/flows", `{"name":"`+strings.Repeat("x", 200)+`"}`).wantStatus(http.StatusOK)
	e.as(e.alice, "POST", "/v1.0/flows", `{"detail":"`+strings.Repeat("x", 3000)+`"}`).wantError(http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE")
}
