package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store/storetest"
)

// ivrFlow is a menu retried twice by goto: press 1 for sales, 2 for support; after three tries without either,
// goodbye.
const ivrFlow = `{"name":"ivr","actions":[
	{"type":"answer"},
	{"id":"menu","type":"talk","option":{"text":"Press 1 for sales, 2 for support."}},
	{"type":"digits_receive","option":{"duration":5000,"length":1}},
	{"type":"branch","option":{"target_ids":{"1":"sales","2":"support"},"default_target_id":"retry"}},
	{"id":"sales","type":"talk","option":{"text":"Connecting you to sales."},"next_id":"bye"},
	{"id":"support","type":"talk","option":{"text":"Connecting you to support."},"next_id":"bye"},
	{"id":"retry","type":"goto","option":{"target_id":"menu","loop_count":2}},
	{"type":"talk","option":{"text":"Goodbye."}},
	{"id":"bye","type":"hangup"}]}`

// TestIVRDrivenToEachEnding drives the IVR over HTTP step by step, as a runner does, reading the activeflow back
// between the steps, to each of its three endings, on both stores.
func TestIVRDrivenToEachEnding(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, ivrFlow)
		for _, c := range []struct {
			name   string
			digits []string
			said   []string
		}{
			{"sales at once", []string{"1"}, []string{"Press 1 for sales, 2 for support.", "Connecting you to sales."}},
			{"support on the second try", []string{"7", "2"}, []string{"Press 1 for sales, 2 for support.", "Press 1 for sales, 2 for support.", "Connecting you to support."}},
			{"nothing valid three times", []string{"", "9", "*"}, []string{"Press 1 for sales, 2 for support.", "Press 1 for sales, 2 for support.", "Press 1 for sales, 2 for support.", "Goodbye."}},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := e.withT(t)
				a := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
				var said []string
				digits := c.digits
				for i := 0; a.Status == "running"; i++ {
					if i > 30 {
						t.Fatal("the call does not end")
					}
					cur := a.CurrentAction
					var read apiActiveflow
					e.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusOK).decode(&read)
					if read.CurrentAction == nil || read.CurrentAction.Step != cur.Step || read.CurrentAction.ID != cur.ID {
						t.Fatalf("read back another current action: %+v, want %+v", read.CurrentAction, cur)
					}
					vars := map[string]string{}
					switch cur.Type {
					case "talk":
						var o struct{ Text string }
						mustDecode(t, cur.Option, &o)
						said = append(said, o.Text)
					case "digits_receive":
						vars[flow.VarDigits], digits = digits[0], digits[1:]
					}
					a = e.next(e.alice, a, vars)
				}
				if a.EndReason != "hangup" || strings.Join(said, "|") != strings.Join(c.said, "|") {
					t.Errorf("said %q, ended %s; want %q", said, a.EndReason, c.said)
				}
				wantSteps(t, a)
			})
		}
	})
}

// TestRetriedReports: a runner that retries a report after a timeout never advances the call twice. Without an
// Idempotency-Key the retry is stale (409), with one it gets the first answer again; either way each step is in
// the trace once, even when a loop brings the call back to the same action.
func TestRetriedReports(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		const loop = `{"actions":[{"id":"a","type":"talk","option":{"text":"again"}},{"type":"goto","option":{"target_id":"a","loop_count":5}},{"type":"hangup"}]}`
		a := e.startActiveflow(e.alice, loop)
		report := map[string]any{"current_action_id": a.CurrentAction.ID, "step": a.CurrentAction.Step}
		path := "/v1.0/activeflows/" + a.ID + "/next"

		// Without a key: the retry of step 1, now that the loop is back at the same action (step 3), is stale.
		var first apiActiveflow
		e.as(e.alice, "POST", path, report).wantStatus(http.StatusOK).decode(&first)
		if first.CurrentAction.ID != a.CurrentAction.ID || first.CurrentAction.Step != 3 {
			t.Fatalf("after step 1: %+v", first.CurrentAction)
		}
		msg := e.as(e.alice, "POST", path, report).wantError(http.StatusConflict, "STALE_ACTION").Message
		if !strings.Contains(msg, "step 1") || !strings.Contains(msg, "step 3") {
			t.Errorf("the message must name both steps: %s", msg)
		}

		// With a key: the retry gets the first answer, byte for byte, and the call does not move.
		report = map[string]any{"current_action_id": first.CurrentAction.ID, "step": first.CurrentAction.Step}
		one := e.as(e.alice, "POST", path, report, "Idempotency-Key", "report-3").wantStatus(http.StatusOK)
		two := e.as(e.alice, "POST", path, report, "Idempotency-Key", "report-3").wantStatus(http.StatusOK)
		if string(one.body) != string(two.body) || two.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("the retry must replay the first answer:\n%s\n%s", one.body, two.body)
		}
		// The same key with another report is refused.
		e.as(e.alice, "POST", path, map[string]any{"current_action_id": first.CurrentAction.ID, "step": 99}, "Idempotency-Key", "report-3").
			wantError(http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED")

		var now apiActiveflow
		e.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusOK).decode(&now)
		if now.CurrentAction.Step != 5 || len(now.ExecutedActions) != 5 {
			t.Errorf("the call moved %d steps, want 5: %s", len(now.ExecutedActions), simTrace(now.ExecutedActions))
		}
		wantSteps(t, now)

		// Eight runners report the same step at once: one advances, the others are stale.
		report = map[string]any{"current_action_id": now.CurrentAction.ID, "step": now.CurrentAction.Step}
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = e.withT(t).as(e.alice, "POST", path, report).status
			}()
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				ok++
			case http.StatusConflict:
			default:
				t.Errorf("status %d", s)
			}
		}
		e.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusOK).decode(&now)
		if ok != 1 || len(now.ExecutedActions) != 7 {
			t.Errorf("%d runners advanced; the trace has %d steps", ok, len(now.ExecutedActions))
		}
		wantSteps(t, now)
	})
}

// TestHostileVariables: input that would blow up an execution gets a 400 with a pointer, or ends the execution
// with a stable reason; the process's allocations stay bounded and it keeps answering.
func TestHostileVariables(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)

		// The 1 GB expansion: a 32 KiB variable, referred to 16,000 times in each of two options (a 160 kB
		// request; each option within its 64 KiB bound as written).
		v := strings.Repeat("x", 32<<10)
		refs := map[string]any{"type": "talk", "option": map[string]any{"text": strings.Repeat("${v}", 16000)}}
		blowup := map[string]any{"actions": []any{refs, refs}, "variables": map[string]string{"v": v}}
		var sim apiSimulation
		e.as(e.alice, "POST", "/v1.0/flows/simulate", blowup).wantStatus(http.StatusOK).decode(&sim)
		if sim.EndReason != flow.EndOptionLimit {
			t.Errorf("the expansion: ended %s", sim.EndReason)
		}
		a := e.startActiveflow(e.alice, blowup)
		if a.EndReason != flow.EndOptionLimit {
			t.Errorf("the expansion as an activeflow: ended %s", a.EndReason)
		}

		// A variable_set chain that doubles a value in a loop, each round reported by the runner.
		chain := `{"actions":[{"type":"variable_set","option":{"key":"v","value":"xxxxxxxxxxxx"}},
			{"id":"a","type":"variable_set","option":{"key":"v","value":"${v}${v}"}},{"type":"beep"},
			{"type":"goto","option":{"target_id":"a","loop_count":1000}}]}`
		a = e.drive(e.alice, e.startActiveflow(e.alice, chain), "")
		if a.EndReason != flow.EndVariableLimit || len(a.Variables["v"]) > flow.DefaultMaxVariableBytes {
			t.Errorf("the chain: ended %s holding %d bytes", a.EndReason, len(a.Variables["v"]))
		}

		// 500 variables, on /next and at the start; one value over 32 KiB; 64 KiB in all.
		many := map[string]string{}
		for i := range 500 {
			many[fmt.Sprintf("v%03d", i)] = "1"
		}
		running := e.startActiveflow(e.alice, `{"actions":[{"type":"answer"},{"type":"hangup"}]}`)
		body := map[string]any{"current_action_id": running.CurrentAction.ID, "step": 1, "variables": many}
		d := e.as(e.alice, "POST", "/v1.0/activeflows/"+running.ID+"/next", body).wantError(http.StatusBadRequest, flow.ReasonVariableLimit)
		if len(d.Details) == 0 || d.Details[0].Pointer != "/variables" {
			t.Errorf("details: %+v", d.Details)
		}
		body["variables"] = map[string]string{"big": v + "y"}
		d = e.as(e.alice, "POST", "/v1.0/activeflows/"+running.ID+"/next", body).wantError(http.StatusBadRequest, flow.ReasonVariableLimit)
		if d.Details[0].Pointer != "/variables/big" {
			t.Errorf("details: %+v", d.Details)
		}
		d = e.as(e.alice, "POST", "/v1.0/activeflows", map[string]any{"actions": []any{map[string]any{"type": "answer"}}, "variables": many}).
			wantError(http.StatusBadRequest, flow.ReasonVariableLimit)
		if d.Details[0].Pointer != "/variables" {
			t.Errorf("details: %+v", d.Details)
		}
		e.as(e.alice, "POST", "/v1.0/flows/simulate", map[string]any{"actions": []any{map[string]any{"type": "answer"}},
			"steps": []any{map[string]any{"variables": many}}}).wantError(http.StatusBadRequest, flow.ReasonVariableLimit)
		half := strings.Repeat("z", 30<<10)
		e.as(e.alice, "POST", "/v1.0/activeflows", map[string]any{"actions": []any{map[string]any{"type": "answer"}},
			"variables": map[string]string{"a": half, "b": half, "c": half}}).wantError(http.StatusBadRequest, flow.ReasonVariableLimit)
		// Reports that together would pass 64 KiB are refused too, and change nothing.
		body["variables"] = map[string]string{"a": half, "b": half}
		e.as(e.alice, "POST", "/v1.0/activeflows/"+running.ID+"/next", body).wantStatus(http.StatusOK).decode(&running)
		body = map[string]any{"current_action_id": running.CurrentAction.ID, "step": running.CurrentAction.Step, "variables": map[string]string{"c": half}}
		e.as(e.alice, "POST", "/v1.0/activeflows/"+running.ID+"/next", body).wantError(http.StatusBadRequest, flow.ReasonVariableLimit)
		var still apiActiveflow
		e.as(e.alice, "GET", "/v1.0/activeflows/"+running.ID, nil).wantStatus(http.StatusOK).decode(&still)
		if still.Status != "running" || still.Variables["c"] != "" {
			t.Errorf("a refused report changed the activeflow: %s, c set %v", still.Status, still.Variables["c"] != "")
		}

		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 512<<20 {
			t.Errorf("the hostile requests allocated %d MiB", grew>>20)
		}
		e.do("GET", "/healthz", nil).wantStatus(http.StatusOK)
	})
}

// TestVoIPbinActiveflowVariablesOverHTTP: an activeflow knows VoIPbin's voipbin.activeflow variables from its
// first action on; the client's own voipbin. variables are ignored, as VoIPbin ignores them.
func TestVoIPbinActiveflowVariablesOverHTTP(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"vars","actions":[{"type":"talk","option":{"text":"${voipbin.activeflow.id} ${voipbin.activeflow.flow_id} ${voipbin.activeflow.reference_type} ${caller}"}}]}`)
		a := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`","variables":{"caller":"+1555","voipbin.activeflow.id":"forged","voipbin.call.digits":"9"}}`)
		var o struct{ Text string }
		mustDecode(t, a.CurrentAction.Option, &o)
		if want := a.ID + " " + f.ID + " api +1555"; o.Text != want {
			t.Errorf("talk says %q, want %q", o.Text, want)
		}
		if _, set := a.Variables["voipbin.call.digits"]; set || a.Variables["voipbin.activeflow.reference_id"] != "00000000-0000-0000-0000-000000000000" {
			t.Errorf("variables: %v", a.Variables)
		}
		// A simulation has them too, with an id of its own.
		var sim apiSimulation
		e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/simulate", `{"variables":{"caller":"+1555"}}`).wantStatus(http.StatusOK).decode(&sim)
		mustDecode(t, sim.ExecutedActions[0].Option, &o)
		if id := sim.Variables[flow.VarActiveflowID]; id == "" || !strings.HasPrefix(o.Text, id+" "+f.ID+" api") {
			t.Errorf("simulated talk says %q (id %q)", o.Text, id)
		}
	})
}

// TestVoIPbinFetchFlowOfItsOwnFlow: fetch_flow may run the flow it belongs to, as a subroutine of itself; each
// level returns to the one that fetched it, and nesting past the bound ends the execution with its reason.
func TestVoIPbinFetchFlowOfItsOwnFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"self","actions":[{"type":"answer"}]}`)
		e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, `{"name":"self","actions":[{"type":"digits_receive"},
			{"type":"branch","option":{"target_ids":{"1":"again"},"default_target_id":"out"}},
			{"id":"again","type":"fetch_flow","option":{"flow_id":"`+f.ID+`"}},
			{"type":"talk","option":{"text":"back"}},
			{"id":"out","type":"hangup"}]}`).wantStatus(http.StatusOK)
		var sim apiSimulation
		e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/simulate", `{"digits":["1","2"]}`).wantStatus(http.StatusOK).decode(&sim)
		if got := simTrace(sim.ExecutedActions); got != "digits_receive branch:jump fetch_flow:fetch digits_receive branch:jump hangup" || sim.EndReason != "hangup" {
			t.Errorf("simulated: %q ending %s", got, sim.EndReason)
		}
		a := e.drive(e.alice, e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`), "1")
		if a.EndReason != flow.EndFetchFlowDepth {
			t.Errorf("always 1: ended %s after %d actions", a.EndReason, len(a.ExecutedActions))
		}
		wantSteps(t, a)
	})
}

// TestSimulateScriptsEveryRunnerStep: the script gives each runner action the variables it reports, and
// decisions appear only on control actions.
func TestSimulateScriptsEveryRunnerStep(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	body := `{"actions":[
		{"type":"answer"},
		{"type":"condition_call_status","option":{"status":"progressing","false_target_id":"f"}},
		{"type":"talk","option":{"text":"hello ${name}"}},
		{"type":"branch","option":{"variable":"choice","target_ids":{"b":"b"},"default_target_id":"f"}},
		{"id":"b","type":"talk","option":{"text":"b"}},
		{"id":"f","type":"hangup"}],
		"steps":[{"variables":{"voipbin.call.status":"progressing","voipbin.activeflow.id":"ignored","name":"Ana"}},{"variables":{"choice":"b"}}]}`
	var sim apiSimulation
	e.as(e.alice, "POST", "/v1.0/flows/simulate", body).wantStatus(http.StatusOK).decode(&sim)
	if got := simTrace(sim.ExecutedActions); got != "answer condition_call_status:continue talk branch:jump talk hangup" {
		t.Fatalf("trace %q", got)
	}
	var o struct{ Text string }
	mustDecode(t, sim.ExecutedActions[2].Option, &o)
	if o.Text != "hello Ana" || sim.Variables[flow.VarActiveflowID] == "ignored" {
		t.Errorf("talk %q, variables %v", o.Text, sim.Variables)
	}
	for _, r := range sim.ExecutedActions {
		if (r.Decision != nil) != flow.IsControl(flow.Type(r.Type)) {
			t.Errorf("%s: decision %+v", r.Type, r.Decision)
		}
	}
	e.as(e.alice, "POST", "/v1.0/flows/simulate", `{"actions":[{"type":"answer"}],"steps":[{"vars":{}}]}`).wantError(http.StatusBadRequest, "UNKNOWN_FIELD")
	e.as(e.alice, "POST", "/v1.0/flows/simulate", `{"actions":[{"type":"answer"}],"steps":{}}`).wantError(http.StatusBadRequest, "INVALID_FIELD")
}

func mustDecode(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
}

// TestLargeOptionsRefused: options that an execution could never run (over the bound before any substitution)
// are refused when the flow is written, with a pointer to them.
func TestLargeOptionsRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		body := map[string]any{"name": "big", "actions": []any{map[string]any{"type": "answer"},
			map[string]any{"type": "talk", "option": map[string]any{"text": strings.Repeat("a", 70<<10)}}}}
		d := e.as(e.alice, "POST", "/v1.0/flows", body).wantError(http.StatusBadRequest, flow.ReasonInvalidActionOption)
		if len(d.Details) != 1 || d.Details[0].Pointer != "/actions/1/option" {
			t.Errorf("details: %+v", d.Details)
		}
	})
}
