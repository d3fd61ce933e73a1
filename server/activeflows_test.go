package server_test

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/internal/enginetest"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

type apiExecuted struct {
	apiAction
	Step         int    `json:"step"`
	Source       string `json:"source"`
	TMExecute    string `json:"tm_execute"`
	FlowID       string `json:"flow_id"`
	FlowRevision int    `json:"flow_revision"`
	Decision     *struct {
		Result, Reason string
		TargetID       string `json:"target_id"`
	} `json:"decision"`
}

type apiActiveflow struct {
	ID              string            `json:"id"`
	CustomerID      string            `json:"customer_id"`
	FlowID          string            `json:"flow_id"`
	FlowRevision    int               `json:"flow_revision"`
	Status          string            `json:"status"`
	EndReason       string            `json:"end_reason"`
	CurrentAction   *apiExecuted      `json:"current_action"`
	ExecutedActions []apiExecuted     `json:"executed_actions"`
	Variables       map[string]string `json:"variables"`
	TMEnd           string            `json:"tm_end"`

	WebhookURI             string `json:"webhook_uri"`
	WebhookMethod          string `json:"webhook_method"`
	OnCompleteFlowID       string `json:"on_complete_flow_id"`
	OnCompleteActiveflowID string `json:"on_complete_activeflow_id"`
	OnCompleteError        string `json:"on_complete_error"`
	ReferenceActiveflowID  string `json:"reference_activeflow_id"`
}

func (e *env) startActiveflow(u user, body any) apiActiveflow {
	e.t.Helper()
	var a apiActiveflow
	e.as(u, "POST", "/v1.0/activeflows", body).wantStatus(http.StatusOK).decode(&a)
	return a
}

// next reports the current action done and answers the activeflow.
func (e *env) next(u user, a apiActiveflow, vars map[string]string) apiActiveflow {
	e.t.Helper()
	if a.CurrentAction == nil {
		e.t.Fatalf("activeflow %s has no current action: %+v", a.ID, a)
	}
	body := map[string]any{"current_action_id": a.CurrentAction.ID}
	if vars != nil {
		body["variables"] = vars
	}
	var out apiActiveflow
	e.as(u, "POST", "/v1.0/activeflows/"+a.ID+"/next", body).wantStatus(http.StatusOK).decode(&out)
	return out
}

// drive runs an activeflow to its end, answering every digits_receive with digits.
func (e *env) drive(u user, a apiActiveflow, digits string) apiActiveflow {
	e.t.Helper()
	var moved []apiExecuted
	for i := 0; a.Status == "running"; i++ {
		if i > 200 {
			e.t.Fatal("the activeflow does not end")
		}
		var vars map[string]string
		if a.CurrentAction.Type == "digits_receive" {
			vars = map[string]string{"voipbin.call.digits": digits}
		}
		a = e.next(u, a, vars)
		moved = append(moved, a.ExecutedActions...)
	}
	return e.wholeHistory(u, a, moved)
}

// wholeHistory reads an activeflow that a runner drove (GET answers its whole history) and checks that the
// answers of its reports, which hold only the actions each report moved to, add up to the end of that history.
func (e *env) wholeHistory(u user, a apiActiveflow, moved []apiExecuted) apiActiveflow {
	e.t.Helper()
	var full apiActiveflow
	e.as(u, "GET", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusOK).decode(&full)
	if len(moved) > len(full.ExecutedActions) {
		e.t.Fatalf("the reports' answers hold %d actions, the whole history %d", len(moved), len(full.ExecutedActions))
	}
	tail := full.ExecutedActions[len(full.ExecutedActions)-len(moved):]
	for i := range moved {
		if moved[i].ID != tail[i].ID || moved[i].Step != tail[i].Step || moved[i].Type != tail[i].Type {
			e.t.Fatalf("the reports' answers moved to %v, not the end of the history %v", steps(moved), steps(full.ExecutedActions))
		}
	}
	for i, x := range full.ExecutedActions {
		if x.Step != i+1 {
			e.t.Fatalf("the history's steps are not 1, 2, …: %v", steps(full.ExecutedActions))
		}
	}
	return full
}

func steps(list []apiExecuted) []string {
	var out []string
	for _, x := range list {
		out = append(out, fmt.Sprintf("%d:%s", x.Step, x.Type))
	}
	return out
}

func ids(list []apiExecuted) []string {
	var out []string
	for _, x := range list {
		out = append(out, x.ID)
	}
	return out
}

// TestActiveflowsKeepTheirRevision: an activeflow runs exactly the actions of the revision it started from, however
// its flow changes, even when it is deleted; a new activeflow runs the new actions.
func TestActiveflowsKeepTheirRevision(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"v1","actions":[
			{"type":"answer"},
			{"type":"talk","option":{"text":"version one"}},
			{"type":"digits_receive","option":{"length":1}},
			{"type":"branch","option":{"target_ids":{"1":"one"},"default_target_id":"bye"}},
			{"id":"one","type":"talk","option":{"text":"you pressed one"}},
			{"id":"bye","type":"hangup"}]}`)
		v1 := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`","variables":{"caller":"+1555"}}`)
		if v1.Status != "running" || v1.FlowRevision != 1 || v1.CurrentAction.Type != "answer" || v1.Variables["caller"] != "+1555" {
			t.Fatalf("started: %+v", v1)
		}
		v1 = e.next(e.alice, v1, nil) // answer done, now talking

		var v2flow apiFlow
		e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, `{"name":"v2","actions":[{"type":"talk","option":{"text":"version two"}},{"type":"hangup"}]}`).
			wantStatus(http.StatusOK).decode(&v2flow)
		v2 := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
		if v2.FlowRevision != 2 {
			t.Fatalf("a new activeflow runs revision %d, want 2", v2.FlowRevision)
		}
		e.as(e.alice, "DELETE", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusNoContent)

		v1 = e.drive(e.alice, v1, "1")
		var want []string
		for _, i := range []int{0, 1, 2, 3, 4, 5} {
			want = append(want, f.Actions[i].ID)
		}
		if got := ids(v1.ExecutedActions); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("the first activeflow ran %v, want the revision-1 actions %v", got, want)
		}
		if v1.EndReason != "hangup" || v1.ExecutedActions[1].Option == nil || !strings.Contains(string(v1.ExecutedActions[1].Option), "version one") {
			t.Errorf("first activeflow: %+v", v1)
		}
		v2 = e.drive(e.alice, v2, "")
		if got := ids(v2.ExecutedActions); strings.Join(got, " ") != v2flow.Actions[0].ID+" "+v2flow.Actions[1].ID {
			t.Errorf("the second activeflow ran %v, want the revision-2 actions", got)
		}
		for _, x := range append(v1.ExecutedActions, v2.ExecutedActions...) {
			if x.FlowID != f.ID || x.TMExecute == "" {
				t.Errorf("executed action without its flow or time: %+v", x)
			}
		}
	})
}

// TestRunnersRaceOnNext: two runners report the same action at once: one wins, the other gets 409, and the trace
// has no duplicate step.
func TestRunnersRaceOnNext(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		raceRunners(t, e, e)
	})
}

// TestRunnersRaceAcrossInstances: the same, with the runners on two server processes of one PostgreSQL database.
func TestRunnersRaceAcrossInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Postgres)
	raceRunners(t, e, e.secondInstance(t, server.Config{}))
}

// wantSteps checks that an activeflow's trace numbers its steps 1, 2, … with none twice.
func wantSteps(t *testing.T, a apiActiveflow) {
	t.Helper()
	for i, x := range a.ExecutedActions {
		if x.Step != i+1 {
			t.Errorf("executed_actions[%d] is step %d: %s", i, x.Step, simTrace(a.ExecutedActions))
		}
	}
	if a.CurrentAction != nil && a.CurrentAction.Step != len(a.ExecutedActions) {
		t.Errorf("current_action is step %d of %d", a.CurrentAction.Step, len(a.ExecutedActions))
	}
}

func raceRunners(t *testing.T, one, two *env) {
	t.Helper()
	// A loop brings the execution back to the same action: each report names its step.
	a := one.startActiveflow(one.alice, `{"actions":[{"type":"answer"},{"id":"a","type":"talk","option":{"text":"a"}},{"type":"goto","option":{"target_id":"a","loop_count":2}},{"type":"hangup"}]}`)
	for round := 0; a.Status == "running"; round++ {
		statuses := make([]int, 2)
		answers := make([]apiActiveflow, 2)
		var wg sync.WaitGroup
		for i, e := range []*env{one, two} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := e.withT(t).as(e.alice, "POST", "/v1.0/activeflows/"+a.ID+"/next",
					map[string]any{"current_action_id": a.CurrentAction.ID, "step": a.CurrentAction.Step})
				statuses[i] = res.status
				switch res.status {
				case http.StatusOK:
					res.decode(&answers[i])
				case http.StatusConflict:
					// The other runner took the action; if it was the last, the activeflow has ended.
					var e struct{ Error errorBody }
					res.decode(&e)
					if e.Error.Reason != "STALE_ACTION" && e.Error.Reason != "ACTIVEFLOW_ENDED" {
						t.Errorf("409 with reason %s", e.Error.Reason)
					}
				}
			}()
		}
		wg.Wait()
		switch {
		case statuses[0] == 200 && statuses[1] == 409:
			a = answers[0]
		case statuses[0] == 409 && statuses[1] == 200:
			a = answers[1]
		default:
			t.Fatalf("round %d: statuses %v, want one 200 and one 409", round, statuses)
		}
	}
	var final apiActiveflow
	one.as(one.alice, "GET", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusOK).decode(&final)
	wantSteps(t, final)
	if got := simTrace(final.ExecutedActions); got != "answer talk goto:jump talk goto:jump talk goto:continue hangup" || final.EndReason != "hangup" {
		t.Errorf("final: %q, ended %q", got, final.EndReason)
	}
}

func TestActiveflowLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		a := e.startActiveflow(e.alice, `{"actions":[{"type":"variable_set","option":{"key":"who","value":"${name}"}},{"type":"talk","option":{"text":"Hello ${who}, call ${voipbin.activeflow.id}"}},{"type":"beep"}],"variables":{"name":"Ana"}}`)
		if a.FlowID != uuid.Nil.String() || a.FlowRevision != 0 || a.CustomerID != e.alice.customerID {
			t.Errorf("inline activeflow: %+v", a)
		}
		if got, want := string(a.CurrentAction.Option), fmt.Sprintf(`{"text":"Hello Ana, call %s"}`, a.ID); got != want {
			t.Errorf("current action option: got %s, want %s", got, want)
		}
		if len(a.ExecutedActions) != 2 || a.ExecutedActions[0].Decision == nil || a.ExecutedActions[0].Decision.Result != "set" {
			t.Errorf("executed: %+v", a.ExecutedActions)
		}
		// A stale action id changes nothing.
		e.as(e.alice, "POST", "/v1.0/activeflows/"+a.ID+"/next", map[string]any{"current_action_id": uuid.NewString()}).
			wantError(http.StatusConflict, "STALE_ACTION")
		var stopped, again apiActiveflow
		e.as(e.alice, "POST", "/v1.0/activeflows/"+a.ID+"/stop", nil).wantStatus(http.StatusOK).decode(&stopped)
		e.as(e.alice, "POST", "/v1.0/activeflows/"+a.ID+"/stop", nil).wantStatus(http.StatusOK).decode(&again)
		// As in VoIPbin, a stopped activeflow keeps the action it was at as current_action.
		if stopped.Status != "ended" || stopped.EndReason != "stopped" || stopped.CurrentAction == nil ||
			stopped.CurrentAction.ID != a.CurrentAction.ID || stopped.CurrentAction.Step != a.CurrentAction.Step ||
			stopped.TMEnd == "" || again.TMEnd != stopped.TMEnd {
			t.Errorf("stopped: %+v then %+v", stopped, again)
		}
		e.as(e.alice, "POST", "/v1.0/activeflows/"+a.ID+"/next", map[string]any{"current_action_id": a.CurrentAction.ID}).
			wantError(http.StatusConflict, "ACTIVEFLOW_ENDED")

		// An activeflow that ends at once: only control actions.
		e.clock.Advance(time.Millisecond)
		done := e.startActiveflow(e.alice, `{"actions":[{"type":"variable_set","option":{"key":"x","value":"1"}},{"type":"stop"}]}`)
		if done.Status != "ended" || done.EndReason != "stop" || done.CurrentAction == nil || done.CurrentAction.Type != "stop" {
			t.Errorf("ended at start: %+v", done)
		}

		var list struct {
			Result        []apiActiveflow
			NextPageToken string `json:"next_page_token"`
		}
		e.as(e.alice, "GET", "/v1.0/activeflows?page_size=1", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 1 || list.Result[0].ID != done.ID {
			t.Errorf("list: %+v", list)
		}
		e.as(e.bob, "GET", "/v1.0/activeflows/"+a.ID, nil).wantError(http.StatusNotFound, "ACTIVEFLOW_NOT_FOUND")
		e.as(e.bob, "POST", "/v1.0/activeflows/"+a.ID+"/stop", nil).wantError(http.StatusNotFound, "ACTIVEFLOW_NOT_FOUND")
		e.as(e.bob, "DELETE", "/v1.0/activeflows/"+a.ID, nil).wantError(http.StatusNotFound, "ACTIVEFLOW_NOT_FOUND")
		e.as(e.alice, "DELETE", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusNoContent)
		e.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID, nil).wantError(http.StatusNotFound, "ACTIVEFLOW_NOT_FOUND")

		// Deleting a running activeflow stops it.
		running := e.startActiveflow(e.alice, `{"actions":[{"type":"answer"}]}`)
		e.as(e.alice, "DELETE", "/v1.0/activeflows/"+running.ID, nil).wantStatus(http.StatusNoContent)
		e.as(e.alice, "POST", "/v1.0/activeflows/"+running.ID+"/next", map[string]any{"current_action_id": running.CurrentAction.ID}).
			wantError(http.StatusNotFound, "ACTIVEFLOW_NOT_FOUND")
	})
}

func TestActiveflowBadRequests(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, strictFields)
		f := e.createFlow(e.alice, `{"name":"f"}`)
		bobs := e.createFlow(e.bob, `{"name":"bob's"}`)
		for _, c := range []struct{ name, body, reason, pointer string }{
			{"both", `{"flow_id":"` + f.ID + `","actions":[{"type":"answer"}]}`, "INVALID_REQUEST_BODY", ""},
			{"neither", `{"variables":{}}`, "INVALID_REQUEST_BODY", ""},
			{"another customer's flow", `{"flow_id":"` + bobs.ID + `"}`, "INVALID_FLOW_REFERENCE", "/flow_id"},
			{"missing flow", `{"flow_id":"` + uuid.NewString() + `"}`, "INVALID_FLOW_REFERENCE", "/flow_id"},
			{"flow_id not a UUID", `{"flow_id":"main"}`, "INVALID_FIELD", "/flow_id"},
			{"bad action", `{"actions":[{"type":"answer"},{"type":"tlak"}]}`, "INVALID_ACTION_TYPE", "/actions/1/type"},
			{"variables not strings", `{"actions":[{"type":"answer"}],"variables":{"n":1}}`, "INVALID_FIELD", "/variables/n"},
			{"unknown field", `{"actions":[{"type":"answer"}],"referense_id":"x"}`, "UNKNOWN_FIELD", "/referense_id"},
			{"not JSON", `{"actions":`, "INVALID_JSON_BODY", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := e.withT(t)
				errBody := e.as(e.alice, "POST", "/v1.0/activeflows", c.body).wantError(http.StatusBadRequest, c.reason)
				if c.pointer != "" && errBody.Details[0].Pointer != c.pointer {
					t.Errorf("pointer: got %+v, want %s", errBody.Details, c.pointer)
				}
			})
		}
		e.as(e.alice, "POST", "/v1.0/activeflows/"+uuid.NewString()+"/next", `{"variables":{}}`).wantError(http.StatusBadRequest, "INVALID_REQUEST_BODY")
		// Idempotent starts.
		for range 3 {
			e.as(e.alice, "POST", "/v1.0/activeflows", `{"flow_id":"`+f.ID+`"}`, "Idempotency-Key", "start-once").wantStatus(http.StatusOK)
		}
		var list struct{ Result []apiActiveflow }
		e.as(e.alice, "GET", "/v1.0/activeflows", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 1 {
			t.Errorf("%d activeflows, want 1", len(list.Result))
		}
	})
}

type apiSimulation struct {
	FlowID          string            `json:"flow_id"`
	FlowRevision    int               `json:"flow_revision"`
	EndReason       string            `json:"end_reason"`
	ExecutedActions []apiExecuted     `json:"executed_actions"`
	Variables       map[string]string `json:"variables"`
}

func simTrace(list []apiExecuted) string {
	steps := make([]enginetest.Step, len(list))
	for i, x := range list {
		steps[i].Type = x.Type
		if x.Decision != nil {
			steps[i].Decision = x.Decision.Result
		}
	}
	return enginetest.Trace(steps)
}

// script is a case's runner script as the simulate endpoints take it.
func script(c enginetest.Case) map[string]any {
	now := c.Now
	if now == "" {
		now = enginetest.DefaultNow.Format(flow.TimeLayout)
	}
	steps := make([]map[string]any, len(c.Steps))
	for i, vars := range c.Steps {
		steps[i] = map[string]any{"variables": vars}
	}
	out := map[string]any{"digits": c.Digits, "steps": steps, "now": now}
	if c.Digits == nil {
		out["digits"] = []string{}
	}
	if c.Variables != nil {
		out["variables"] = c.Variables
	}
	return out
}

// driveScript runs an activeflow over HTTP as a runner following a case's script would: every report sends the
// current action's step back, and the execution is stored and read back between every two steps.
func (e *env) driveScript(u user, a apiActiveflow, c enginetest.Case) apiActiveflow {
	e.t.Helper()
	digits := c.Digits
	var moved []apiExecuted
	for i := 0; a.Status == "running"; i++ {
		if i > 200 {
			e.t.Fatal("the activeflow does not end")
		}
		vars := map[string]string{}
		if i < len(c.Steps) {
			maps.Copy(vars, c.Steps[i])
		}
		if _, set := vars[flow.VarDigits]; !set && a.CurrentAction.Type == "digits_receive" && len(digits) > 0 {
			vars[flow.VarDigits], digits = digits[0], digits[1:]
		}
		body := map[string]any{"current_action_id": a.CurrentAction.ID, "step": a.CurrentAction.Step, "variables": vars}
		e.as(u, "POST", "/v1.0/activeflows/"+a.ID+"/next", body).wantStatus(http.StatusOK).decode(&a)
		moved = append(moved, a.ExecutedActions...)
	}
	return e.wholeHistory(u, a, moved)
}

// TestSimulateReproducesTheEngine runs the engine's table (flow/testdata/engine/) over HTTP: simulated
// inline and from stored flows, and as real activeflows stored between every two steps, on both stores. Every
// path gives the table's trace and end.
func TestSimulateReproducesTheEngine(t *testing.T) {
	t.Parallel()
	cases := enginetest.Cases(t)
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		for _, c := range cases {
			t.Run(c.Name, func(t *testing.T) {
				e := e.withT(t)
				sc := script(c)
				inline := map[string]any{"actions": c.Actions}
				maps.Copy(inline, sc)
				var got apiSimulation
				e.as(e.alice, "POST", "/v1.0/flows/simulate", inline).wantStatus(http.StatusOK).decode(&got)
				if simTrace(got.ExecutedActions) != c.Trace || got.EndReason != c.End {
					t.Errorf("inline: got %q ending %s, want %q ending %s", simTrace(got.ExecutedActions), got.EndReason, c.Trace, c.End)
				}
				f := e.createFlow(e.alice, map[string]any{"name": c.Name, "actions": c.Actions})
				e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/simulate", sc).wantStatus(http.StatusOK).decode(&got)
				if simTrace(got.ExecutedActions) != c.Trace || got.EndReason != c.End || got.FlowID != f.ID || got.FlowRevision != 1 {
					t.Errorf("stored: got %q ending %s (flow %s rev %d), want %q ending %s", simTrace(got.ExecutedActions), got.EndReason, got.FlowID, got.FlowRevision, c.Trace, c.End)
				}
				for _, r := range got.ExecutedActions {
					if r.Decision != nil && !flow.IsControl(flow.Type(r.Type)) {
						t.Errorf("a decision on the runner action %s: %+v", r.Type, r.Decision)
					}
				}
				e.clock.Set(c.Clock(t))
				start := map[string]any{"flow_id": f.ID}
				if c.Variables != nil {
					start["variables"] = c.Variables
				}
				a := e.driveScript(e.alice, e.startActiveflow(e.alice, start), c)
				if simTrace(a.ExecutedActions) != c.Trace || a.EndReason != c.End {
					t.Errorf("activeflow: got %q ending %s, want %q ending %s", simTrace(a.ExecutedActions), a.EndReason, c.Trace, c.End)
				}
				if sim, act := withoutActiveflowID(got.Variables), withoutActiveflowID(a.Variables); !maps.Equal(sim, act) {
					t.Errorf("variables differ:\nsimulated  %v\nactiveflow %v", sim, act)
				}
			})
		}
		e.clock.Set(time.Now().UTC())
	})
}

// withoutActiveflowID is an execution's variables without its id, the one variable a simulation and an
// activeflow of the same flow do not share.
func withoutActiveflowID(vars map[string]string) map[string]string {
	out := maps.Clone(vars)
	delete(out, flow.VarActiveflowID)
	return out
}

func TestSimulateDetails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		sub := e.createFlow(e.alice, `{"name":"sub","actions":[{"type":"talk","option":{"text":"inside"}}]}`)
		e.as(e.alice, "PUT", "/v1.0/flows/"+sub.ID, `{"name":"sub","actions":[{"type":"talk","option":{"text":"inside, v2"}}]}`).wantStatus(http.StatusOK)
		main := e.createFlow(e.alice, `{"name":"main","actions":[{"type":"digits_receive"},{"type":"branch","option":{"target_ids":{"7":"in"},"default_target_id":"out"}},{"id":"in","type":"fetch_flow","option":{"flow_id":"`+sub.ID+`"}},{"id":"out","type":"hangup"}]}`)
		var got apiSimulation
		e.as(e.alice, "POST", "/v1.0/flows/"+main.ID+"/simulate", `{"digits":["7"]}`).wantStatus(http.StatusOK).decode(&got)
		if simTrace(got.ExecutedActions) != "digits_receive branch:jump fetch_flow:fetch talk hangup" || got.EndReason != "hangup" {
			t.Fatalf("trace %q ending %s", simTrace(got.ExecutedActions), got.EndReason)
		}
		if d := got.ExecutedActions[0].Decision; d != nil {
			t.Errorf("a runner action has no decision: %+v", d)
		}
		br := got.ExecutedActions[1].Decision
		if br.TargetID != main.Actions[2].ID || !strings.Contains(br.Reason, `target_ids["7"]`) {
			t.Errorf("branch decision: %+v", br)
		}
		if fetched := got.ExecutedActions[3]; fetched.FlowID != sub.ID || fetched.FlowRevision != 2 || !strings.Contains(string(fetched.Option), "v2") {
			t.Errorf("fetch_flow must run the current revision (2) and say so: %+v", fetched)
		}
		// The branch read the digits and cleared them, as VoIPbin's does.
		if v, ok := got.Variables["voipbin.call.digits"]; !ok || v != "" || got.Variables[flow.VarActiveflowID] == "" {
			t.Errorf("variables: %v", got.Variables)
		}
		e.as(e.alice, "POST", "/v1.0/flows/"+main.ID+"/simulate", `{"now":"yesterday"}`).wantError(http.StatusBadRequest, "INVALID_REQUEST_BODY")
		e.as(e.alice, "POST", "/v1.0/flows/simulate", `{"actions":[{"type":"tlak"}]}`).wantError(http.StatusBadRequest, "INVALID_ACTION_TYPE")
		e.as(e.alice, "POST", "/v1.0/flows/simulate", `{"digits":[]}`).wantError(http.StatusBadRequest, "INVALID_REQUEST_BODY")
		e.as(e.bob, "POST", "/v1.0/flows/"+main.ID+"/simulate", `{}`).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
	})
}

func TestFlowGraph(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	f := e.createFlow(e.alice, `{"name":"ivr","actions":[
		{"id":"menu","type":"digits_receive"},
		{"type":"branch","option":{"target_ids":{"1":"sales"},"default_target_id":"menu"}},
		{"type":"talk","option":{"text":"never said"}},
		{"id":"sales","type":"condition_variable","option":{"condition":"==","variable":"vip","value_string":"yes","false_target_id":"menu"}},
		{"type":"hangup"}]}`)
	var g struct {
		Nodes []struct {
			ID        string
			Index     int
			Type      string
			Label     string
			Reachable bool
		}
		Edges []struct{ From, To, Kind, Label string }
	}
	e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph", nil).wantStatus(http.StatusOK).decode(&g)
	if len(g.Nodes) != 5 || g.Nodes[2].Reachable || !g.Nodes[3].Reachable || g.Nodes[2].Label != "talk: never said" {
		t.Errorf("nodes: %+v", g.Nodes)
	}
	kinds := map[string]bool{}
	for _, edge := range g.Edges {
		kinds[edge.Kind+":"+edge.Label] = true
	}
	for _, want := range []string{"next:", "branch:1", "default:", "true:", "false:"} {
		if !kinds[want] {
			t.Errorf("no %s edge in %+v", want, g.Edges)
		}
	}
	res := e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph?format=mermaid", nil).wantStatus(http.StatusOK)
	if !strings.HasPrefix(string(res.body), "flowchart TD") || !strings.Contains(string(res.body), "class a2 unreachable") ||
		res.header.Get("Content-Type") != "text/vnd.mermaid" {
		t.Errorf("mermaid (%s):\n%s", res.header.Get("Content-Type"), res.body)
	}
	res = e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph?format=dot", nil).wantStatus(http.StatusOK)
	if !strings.HasPrefix(string(res.body), "digraph flow {") || !strings.Contains(string(res.body), `a1 -> a3 [label="1"]`) {
		t.Errorf("dot:\n%s", res.body)
	}
	e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph?format=png", nil).wantError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
	e.as(e.bob, "GET", "/v1.0/flows/"+f.ID+"/graph", nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
}

// TestSimulateNowTakesRFC3339: a simulation's now is the wire format (UTC) or RFC 3339 with any offset, read as
// the same instant, on both simulation operations and both databases.
func TestSimulateNowTakesRFC3339(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		actions := `[{"type":"condition_datetime","option":{"condition":"==","hour":8,"false_target_id":"closed"}},
			{"type":"talk","option":{"text":"open"}},{"type":"hangup"},{"id":"closed","type":"talk","option":{"text":"closed"}}]`
		f := e.createFlow(e.alice, `{"name":"hours","actions":`+actions+`}`)
		said := func(path, body string) string {
			t.Helper()
			var sim struct {
				ExecutedActions []struct {
					Type   string
					Option map[string]any
				} `json:"executed_actions"`
			}
			e.as(e.alice, "POST", path, body).wantStatus(http.StatusOK).decode(&sim)
			for _, a := range sim.ExecutedActions {
				if a.Type == "talk" {
					return a.Option["text"].(string)
				}
			}
			return ""
		}
		for _, c := range []struct{ now, want string }{
			{"2026-11-23 08:30:00.000000", "open"},
			{"2026-11-23T09:30:00+01:00", "open"}, // 08:30 UTC
			{"2026-11-23T08:30:00.123456789Z", "open"},
			{"2026-11-23T09:30:00Z", "closed"},
			{"2026-11-23T08:30:00-01:00", "closed"}, // 09:30 UTC
		} {
			if got := said("/v1.0/flows/"+f.ID+"/simulate", `{"now":"`+c.now+`"}`); got != c.want {
				t.Errorf("simulateFlow at %s: %q, want %q", c.now, got, c.want)
			}
			if got := said("/v1.0/flows/simulate", `{"now":"`+c.now+`","actions":`+actions+`}`); got != c.want {
				t.Errorf("simulateActions at %s: %q, want %q", c.now, got, c.want)
			}
		}
		for _, bad := range []string{"2026-11-23T09:30:00", "2026-11-23 08:30:00", "23/11/2026"} {
			e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/simulate", `{"now":"`+bad+`"}`).wantError(http.StatusBadRequest, "INVALID_REQUEST_BODY")
			e.as(e.alice, "POST", "/v1.0/flows/simulate", `{"now":"`+bad+`","actions":`+actions+`}`).wantError(http.StatusBadRequest, "INVALID_FIELD")
		}
	})
}
