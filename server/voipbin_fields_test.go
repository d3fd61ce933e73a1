package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/store/storetest"
)

// nilID is VoIPbin's value of an id that is unset.
var nilID = uuid.Nil.String()

// object decodes an answer as generic JSON, so that a test sees which fields are present, not only their values.
func (r *response) object() map[string]any {
	r.t.Helper()
	var m map[string]any
	r.decode(&m)
	return m
}

// wantFields checks that every field is present in m with the value given (nil for JSON null).
func wantFields(t *testing.T, what string, m map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, ok := m[k]
		if !ok {
			t.Errorf("%s: %q is absent, want %v", what, k, v)
			continue
		}
		if got != v {
			t.Errorf("%s: %q is %#v, want %#v", what, k, got, v)
		}
	}
}

// wantFlowFields checks a flow as VoIPbin serves it: on_complete_flow_id always, and every action with next_id (the
// nil UUID unless nextIDs names one, by index) and tm_execute null.
func wantFlowFields(t *testing.T, what string, f map[string]any, onComplete string, nextIDs map[int]string) {
	t.Helper()
	wantFields(t, what, f, map[string]any{"on_complete_flow_id": onComplete})
	actions, _ := f["actions"].([]any)
	if len(actions) == 0 {
		t.Fatalf("%s: no actions: %v", what, f)
	}
	for i, a := range actions {
		next := nilID
		if id, ok := nextIDs[i]; ok {
			next = id
		}
		wantFields(t, what+" action "+string(rune('0'+i)), a.(map[string]any), map[string]any{"next_id": next, "tm_execute": nil})
	}
}

// wantActiveflowFields checks an activeflow as VoIPbin serves it: its reference, forward and on-complete fields
// always present, and every executed action (and the current one) with next_id.
func wantActiveflowFields(t *testing.T, what string, a map[string]any, want map[string]any) {
	t.Helper()
	fields := map[string]any{
		"reference_type": "api", "reference_id": nilID, "reference_activeflow_id": nilID,
		"forward_action_id": nilID, "on_complete_flow_id": nilID,
	}
	for k, v := range want {
		fields[k] = v
	}
	wantFields(t, what, a, fields)
	executed, _ := a["executed_actions"].([]any)
	if cur, ok := a["current_action"].(map[string]any); ok {
		executed = append(executed, cur)
	}
	for _, x := range executed {
		m := x.(map[string]any)
		if _, ok := m["next_id"].(string); !ok {
			t.Errorf("%s: executed action without next_id: %v", what, m)
		}
		if _, ok := m["tm_execute"].(string); !ok {
			t.Errorf("%s: executed action without tm_execute: %v", what, m)
		}
	}
}

// TestVoIPbinFieldsServed: flows, their actions and activeflows carry every field VoIPbin serves, with VoIPbin's value
// when unset (the nil UUID, "api", null), in every answer; and a flow read with GET and written back unchanged
// keeps its meaning and makes no new revision.
func TestVoIPbinFieldsServed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		body := `{"name":"ivr","actions":[
			{"type":"answer"},
			{"id":"greet","type":"talk","option":{"text":"hi"},"next_id":"bye"},
			{"id":"bye","type":"hangup"}]}`
		created := e.as(e.alice, "POST", "/v1.0/flows", body).wantStatus(http.StatusOK).object()
		id := created["id"].(string)
		actions := created["actions"].([]any)
		bye := actions[2].(map[string]any)["id"].(string)
		next := map[int]string{1: bye}
		wantFlowFields(t, "created", created, nilID, next)

		got := e.as(e.alice, "GET", "/v1.0/flows/"+id, nil).wantStatus(http.StatusOK)
		wantFlowFields(t, "get", got.object(), nilID, next)
		var list struct{ Result []map[string]any }
		e.as(e.alice, "GET", "/v1.0/flows", nil).wantStatus(http.StatusOK).decode(&list)
		wantFlowFields(t, "list", list.Result[0], nilID, next)
		var revs struct{ Result []map[string]any }
		e.as(e.alice, "GET", "/v1.0/flows/"+id+"/revisions", nil).wantStatus(http.StatusOK).decode(&revs)
		wantFlowFields(t, "revisions", revs.Result[0], nilID, next)
		wantFlowFields(t, "revision", e.as(e.alice, "GET", "/v1.0/flows/"+id+"/revisions/1", nil).wantStatus(http.StatusOK).object(), nilID, next)

		// The answer of GET, PUT back as it is (nil next_ids, null tm_execute, nil on_complete_flow_id): accepted
		// quietly, the same flow, no new revision.
		put := e.as(e.alice, "PUT", "/v1.0/flows/"+id, got.body).wantStatus(http.StatusOK)
		if w := put.header.Values("Warning"); len(w) != 0 {
			t.Errorf("PUT of GET's answer warns: %q", w)
		}
		again := put.object()
		if again["revision"] != float64(1) || put.header.Get("ETag") != `"r1"` {
			t.Errorf("PUT of GET's answer made revision %v (ETag %s), want 1", again["revision"], put.header.Get("ETag"))
		}
		wantFlowFields(t, "PUT of GET", again, nilID, next)
		gotActions, _ := json.Marshal(again["actions"])
		wantActions, _ := json.Marshal(actions)
		if string(gotActions) != string(wantActions) {
			t.Errorf("PUT of GET changed the actions:\n got %s\nwant %s", gotActions, wantActions)
		}

		// An activeflow of the flow, as it starts, runs, is listed and is stopped.
		started := e.as(e.alice, "POST", "/v1.0/activeflows", `{"flow_id":"`+id+`"}`).wantStatus(http.StatusOK).object()
		afID := started["id"].(string)
		wantActiveflowFields(t, "started", started, map[string]any{"flow_id": id, "status": "running"})
		cur := started["current_action"].(map[string]any)
		wantFields(t, "current action", cur, map[string]any{"type": "answer", "next_id": nilID})
		ran := e.as(e.alice, "POST", "/v1.0/activeflows/"+afID+"/next", map[string]any{"current_action_id": cur["id"]}).
			wantStatus(http.StatusOK).object()
		wantActiveflowFields(t, "next", ran, map[string]any{"flow_id": id})
		cur = ran["current_action"].(map[string]any)
		wantFields(t, "talk", cur, map[string]any{"type": "talk", "next_id": bye})
		wantActiveflowFields(t, "get", e.as(e.alice, "GET", "/v1.0/activeflows/"+afID, nil).wantStatus(http.StatusOK).object(),
			map[string]any{"flow_id": id})
		var afs struct{ Result []map[string]any }
		e.as(e.alice, "GET", "/v1.0/activeflows", nil).wantStatus(http.StatusOK).decode(&afs)
		wantActiveflowFields(t, "list", afs.Result[0], map[string]any{"flow_id": id})
		stopped := e.as(e.alice, "POST", "/v1.0/activeflows/"+afID+"/stop", nil).wantStatus(http.StatusOK).object()
		wantActiveflowFields(t, "stopped", stopped, map[string]any{"flow_id": id, "status": "ended"})
		if c, ok := stopped["current_action"].(map[string]any); !ok || c["id"] != cur["id"] || c["step"] != cur["step"] {
			t.Errorf("stopped: current_action %v, want the action it was stopped at %v", stopped["current_action"], cur)
		}

		// Inline actions: no flow, so the nil flow_id. Its end starts a flow, which names it as its reference.
		chained := e.as(e.alice, "POST", "/v1.0/activeflows", `{"actions":[{"type":"stop"}],"on_complete_flow_id":"`+id+`"}`).
			wantStatus(http.StatusOK).object()
		wantActiveflowFields(t, "inline", chained, map[string]any{"flow_id": nilID, "on_complete_flow_id": id, "status": "ended"})
		if c, _ := chained["current_action"].(map[string]any); c == nil || c["type"] != "stop" {
			t.Errorf("ended by stop: current_action %v, want the stop action", chained["current_action"])
		}
		nextID, _ := chained["on_complete_activeflow_id"].(string)
		wantActiveflowFields(t, "chained", e.as(e.alice, "GET", "/v1.0/activeflows/"+nextID, nil).wantStatus(http.StatusOK).object(),
			map[string]any{"flow_id": id, "reference_activeflow_id": chained["id"], "status": "running"})
	})
}

// TestVoIPbinPing: GET /ping answers as VoIPbin's does, with or without credentials (VoIPbin checks none there).
func TestVoIPbinPing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	for _, header := range [][]string{nil, {"Authorization", "Bearer not-a-token"}} {
		res := e.do("GET", "/ping", nil, header...).wantStatus(http.StatusOK)
		if got := string(bytes.TrimSpace(res.body)); got != `{"message":"pong"}` {
			t.Errorf("GET /ping answered %s, want {\"message\":\"pong\"}", got)
		}
		if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
	}
}
