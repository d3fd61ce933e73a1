package flow_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// The tests named TestVoIPbin… each pin one rule that flowbin takes from VoIPbin's flow-manager
// (docs/execution.md lists them, with where flowbin differs and why).

func TestVoIPbinBranchClearsItsVariable(t *testing.T) {
	// A menu that loops back reads fresh digits: the branch cleared the ones it read, so the second pass, with
	// no digits reported, takes the default instead of jumping on the stale "1" again.
	doc := actions(
		`{"id":"menu","type":"talk","option":{"text":"menu"}}`,
		`{"type":"branch","option":{"target_ids":{"1":"one"},"default_target_id":"bye"}}`,
		`{"id":"one","type":"goto","option":{"target_id":"menu","loop_count":1}}`,
		`{"id":"bye","type":"hangup"}`)
	x := flow.NewExecution(flow.Origin{}, mustActions(t, doc), nil)
	e := &flow.Engine{}
	ctx := context.Background()
	if _, err := e.Start(ctx, x); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Next(ctx, x, flow.RunnerReport{ActionID: x.Current.ID, Variables: map[string]string{flow.VarDigits: "1"}}); err != nil {
		t.Fatal(err)
	}
	if v, ok := x.Variables[flow.VarDigits]; !ok || v != "" {
		t.Fatalf("after the branch, %s = %q (set %v), want \"\"", flow.VarDigits, v, ok)
	}
	if _, err := e.Next(ctx, x, flow.RunnerReport{ActionID: x.Current.ID}); err != nil { // the menu again, nothing pressed
		t.Fatal(err)
	}
	if got := trace(x); got != "talk branch:jump goto:jump talk branch:jump hangup" {
		t.Errorf("got %q", got)
	}
	if r := x.Executed[4].Decision; !strings.Contains(r.Reason, "default_target_id") {
		t.Errorf("the second branch must take the default: %s", r.Reason)
	}
	// A branch on another variable clears that one; one that was never set stays unset.
	x = simulate(t, e, actions(`{"type":"branch","option":{"variable":"lang","target_ids":{"ko":"k"}}}`, `{"id":"k","type":"beep"}`),
		map[string]string{"lang": "ko"})
	if v, ok := x.Variables["lang"]; !ok || v != "" {
		t.Errorf("lang = %q (set %v)", v, ok)
	}
	x = simulate(t, e, actions(`{"type":"branch","option":{"variable":"never","target_ids":{"x":"k"}}}`, `{"id":"k","type":"beep"}`), nil)
	if _, ok := x.Variables["never"]; ok {
		t.Errorf("a variable that was never set must not appear")
	}
}

func TestVoIPbinConditionCallDigitsLengthOrKey(t *testing.T) {
	e := &flow.Engine{}
	for _, c := range []struct {
		option, digits string
		holds          bool
	}{
		{`"length":4`, "1234", true},
		{`"length":4`, "12345", true}, // reaches the length
		{`"length":4`, "123", false},
		{`"key":"#"`, "12#", true},
		{`"key":"#"`, "12", false},
		{`"length":4,"key":"#"`, "1#", true},   // the key alone
		{`"length":4,"key":"#"`, "1234", true}, // the length alone
		{`"length":4,"key":"#"`, "12", false},
		{``, "1234", false}, // neither: never holds
	} {
		// The runner reports the digits when the answer is done; then the condition reads them.
		doc := actions(`{"type":"answer"}`, `{"type":"condition_call_digits","option":{`+c.option+sep(c.option)+`"false_target_id":"f"}}`,
			`{"type":"stop"}`, `{"id":"f","type":"hangup"}`)
		x := flow.NewExecution(flow.Origin{}, mustActions(t, doc), nil)
		if _, err := e.Drive(context.Background(), x, flow.Script{Steps: []map[string]string{{flow.VarDigits: c.digits}}}, nil); err != nil {
			t.Fatal(err)
		}
		if holds := x.EndReason == flow.EndStop; holds != c.holds {
			t.Errorf("{%s} on %q: holds %v, want %v (%s)", c.option, c.digits, holds, c.holds, x.Executed[1].Decision.Reason)
		}
	}
}

func sep(option string) string {
	if option == "" {
		return ""
	}
	return ","
}

func TestVoIPbinConditionVariableDollarName(t *testing.T) {
	e := &flow.Engine{}
	vars := map[string]string{"tier": "gold", "n": "7"}
	for _, c := range []struct {
		option string
		holds  bool
	}{
		{`"variable":"tier","value_string":"gold"`, true},    // a bare name (VoIPbin's documentation)
		{`"variable":"${tier}","value_string":"gold"`, true}, // ${name} (what VoIPbin's code reads)
		{`"variable":"${tier}","value_string":"silver"`, false},
		{`"variable":"${tier}-${n}","value_string":"gold-7"`, true}, // other text: compared as substituted
		{`"variable":"${n}","value_type":"number","value_number":5,"condition":">"`, true},
		{`"variable":"${missing}","value_string":""`, true},
	} {
		cond := `"condition":"=="`
		if strings.Contains(c.option, `"condition"`) {
			cond = ""
		}
		doc := actions(`{"type":"condition_variable","option":{`+c.option+sep(cond)+cond+`,"false_target_id":"f"}}`,
			`{"type":"stop"}`, `{"id":"f","type":"hangup"}`)
		x := simulate(t, e, doc, vars)
		if holds := x.EndReason == flow.EndStop; holds != c.holds {
			t.Errorf("{%s}: holds %v, want %v (%s)", c.option, holds, c.holds, x.Executed[0].Decision.Reason)
		}
	}
}

func TestVoIPbinConditionDatetimeWildcards(t *testing.T) {
	// -1 is any minute, hour or day; 0 is any month (and any day). An absent field is any too (VoIPbin's code
	// reads an absent hour or minute as 0: flowbin follows the documented intent).
	at := time.Date(2026, 11, 23, 8, 30, 0, 0, time.UTC) // Monday
	e := &flow.Engine{Now: func() time.Time { return at }}
	for _, c := range []struct {
		option string
		holds  bool
	}{
		{`"condition":"==","hour":8,"minute":-1`, true},
		{`"condition":"==","hour":-1,"minute":30`, true},
		{`"condition":"==","month":0,"day":-1,"hour":8,"minute":30`, true},
		{`"condition":"==","month":11,"day":0,"hour":-1,"minute":-1`, true},
		{`"condition":"==","month":12,"day":-1`, false},
		{`"condition":"==","hour":8`, true}, // minute absent: any
		{`"condition":">=","hour":8,"minute":30`, true},
		{`"condition":">=","hour":8,"minute":31`, false},
		{`"condition":"<","hour":17,"minute":-1`, true},
		{`"condition":"==","hour":-1,"weekdays":[1,2,3,4,5]`, true},
		{`"condition":"==","hour":-1,"weekdays":[0,6]`, false},
	} {
		doc := actions(`{"type":"condition_datetime","option":{`+c.option+`,"false_target_id":"f"}}`, `{"type":"stop"}`, `{"id":"f","type":"hangup"}`)
		x := simulate(t, e, doc, nil)
		if holds := x.EndReason == flow.EndStop; holds != c.holds {
			t.Errorf("{%s} at %s: holds %v, want %v (%s)", c.option, at, holds, c.holds, x.Executed[0].Decision.Reason)
		}
	}
}

func TestVoIPbinActiveflowVariables(t *testing.T) {
	id, flowID, ref := uuid.New(), uuid.New(), uuid.New()
	x := flow.NewExecution(flow.Origin{ActiveflowID: id, FlowID: flowID, ReferenceType: "call", ReferenceID: ref, CompleteCount: 2},
		nil, map[string]string{"voipbin.activeflow.id": "forged", "voipbin.call.digits": "9", "mine": "kept"})
	want := map[string]string{
		"voipbin.activeflow.id":                      id.String(),
		"voipbin.activeflow.flow_id":                 flowID.String(),
		"voipbin.activeflow.reference_type":          "call",
		"voipbin.activeflow.reference_id":            ref.String(),
		"voipbin.activeflow.reference_activeflow_id": uuid.Nil.String(),
		"voipbin.activeflow.complete_count":          "2",
		"voipbin.flow.id":                            flowID.String(),
		"mine":                                       "kept",
	}
	for k, v := range want {
		if x.Variables[k] != v {
			t.Errorf("%s = %q, want %q", k, x.Variables[k], v)
		}
	}
	if len(x.Variables) != len(want) {
		t.Errorf("variables %v: the client's voipbin. variables must be ignored", x.Variables)
	}
	// The runner may report its own variables and voipbin.call ones; the rest of voipbin. is ignored.
	got := flow.RunnerVariables(map[string]string{"voipbin.call.digits": "1", "voipbin.activeflow.id": "x", "note": "n"})
	if len(got) != 2 || got["voipbin.call.digits"] != "1" || got["note"] != "n" {
		t.Errorf("runner variables: %v", got)
	}
}

func TestVoIPbinVariableLimits(t *testing.T) {
	lim := flow.Limits{}
	many := map[string]string{}
	for i := range 101 {
		many["v"+strings.Repeat("x", i)] = "1"
	}
	big := map[string]string{"big": strings.Repeat("x", 32<<10+1)}
	total := map[string]string{"a": strings.Repeat("x", 32<<10), "b": strings.Repeat("x", 32<<10)}
	for name, vars := range map[string]map[string]string{"101 variables": many, "a 32 KiB value": big, "64 KiB in all": total} {
		if errs := flow.CheckVariables(vars, lim, "/variables"); len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	if errs := flow.CheckVariables(map[string]string{"a": strings.Repeat("x", 32<<10)}, lim, "/variables"); len(errs) != 0 {
		t.Errorf("32 KiB exactly: %v", errs[0])
	}
	if errs := flow.CheckVariables(big, lim, "/variables"); errs[0].Pointer != "/variables/big" {
		t.Errorf("pointer %q", errs[0].Pointer)
	}
}

// TestLimitsReachableUnderDefaults: each limit has a flow that ends with its reason under the defaults.
func TestLimitsReachableUnderDefaults(t *testing.T) {
	e := &flow.Engine{}
	spin := actions(`{"id":"a","type":"variable_set","option":{"key":"k","value":"v"}}`, `{"type":"goto","option":{"target_id":"a","loop_count":1000}}`)
	if x := simulate(t, e, spin, nil); x.EndReason != flow.EndControlStepLimit || len(x.Executed) != flow.DefaultMaxControlSteps {
		t.Errorf("control actions alone: %s after %d", x.EndReason, len(x.Executed))
	}
	loop := actions(`{"id":"a","type":"beep"}`, `{"type":"goto","option":{"target_id":"a","loop_count":1000}}`)
	if x := simulate(t, e, loop, nil); x.EndReason != flow.EndExecutedLimit || len(x.Executed) != flow.DefaultMaxExecuted {
		t.Errorf("a loop with a runner action: %s after %d", x.EndReason, len(x.Executed))
	}
	// Doubling a variable: it passes 32 KiB and the execution ends; the value never exceeds the bound.
	double := actions(`{"type":"variable_set","option":{"key":"v","value":"xxxxxxxxxxxx"}}`, // 12 × 2^12 passes 32 KiB within the option bound
		`{"id":"a","type":"variable_set","option":{"key":"v","value":"${v}${v}"}}`, `{"type":"beep"}`,
		`{"type":"goto","option":{"target_id":"a","loop_count":100}}`)
	if x := simulate(t, e, double, nil); x.EndReason != flow.EndVariableLimit || len(x.Variables["v"]) > flow.DefaultMaxVariableBytes {
		t.Errorf("a doubling variable: %s with %d bytes", x.EndReason, len(x.Variables["v"]))
	}
	// An option that would expand past 64 KiB ends the execution before anything that size is built.
	v := strings.Repeat("x", 30<<10)
	blowup := actions(`{"type":"talk","option":{"text":"` + strings.Repeat("${v}", 4000) + `"}}`)
	x := flow.NewExecution(flow.Origin{}, mustActions(t, blowup), map[string]string{"v": v})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := e.Simulate(context.Background(), x, flow.Script{})
	runtime.ReadMemStats(&after)
	if err != nil || x.EndReason != flow.EndOptionLimit {
		t.Errorf("a 120 MB expansion: %v, ended %s", err, x.EndReason)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("the expansion allocated %d MiB", grew>>20)
	}
	// State: action lists with large options, nested by fetch_flow, end with state_limit under a small bound
	// (the actions run are rows, bounded by MaxExecuted: they are not the state).
	big := strings.Repeat("y", 60<<10)
	fat := mustActions(t, actions(`{"type":"talk","option":{"text":"`+big+`"}}`, `{"type":"fetch_flow","option":{"flow_id":"2b1f9d0e-4c5a-4e7b-9a3c-1d2e3f4a5b6c"}}`))
	nest := &flow.Engine{Limits: flow.Limits{MaxStateBytes: 1 << 20}, Flows: func(context.Context, uuid.UUID) ([]flow.Action, int, error) { return fat, 1, nil }}
	x = flow.NewExecution(flow.Origin{}, fat, nil)
	if err := nest.Simulate(context.Background(), x, flow.Script{}); err != nil || x.EndReason != flow.EndStateLimit || x.Size() > 1<<20 {
		t.Errorf("fat nested lists: %v, %s at %d bytes", err, x.EndReason, x.Size())
	}
}

// TestDeadline: an advance stops at the request's deadline.
func TestDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x := flow.NewExecution(flow.Origin{}, mustActions(t, actions(`{"type":"variable_set","option":{"key":"k","value":"v"}}`)), nil)
	if _, err := (&flow.Engine{}).Start(ctx, x); err == nil {
		t.Error("a cancelled request must stop the engine")
	}
}

// TestStaleStep: a report of an earlier step is stale even when a loop brought the execution back to the same
// action, and changes nothing.
func TestStaleStep(t *testing.T) {
	e := &flow.Engine{}
	ctx := context.Background()
	x := flow.NewExecution(flow.Origin{}, mustActions(t, actions(`{"id":"a","type":"talk","option":{"text":"hi"}}`, `{"type":"goto","option":{"target_id":"a","loop_count":3}}`)), nil)
	if _, err := e.Start(ctx, x); err != nil {
		t.Fatal(err)
	}
	first := *x.Current
	if _, err := e.Next(ctx, x, flow.RunnerReport{ActionID: first.ID, Step: first.Step}); err != nil {
		t.Fatal(err)
	}
	if x.Current.ID != first.ID || x.Current.Step != 3 {
		t.Fatalf("current %+v", x.Current)
	}
	if _, err := e.Next(ctx, x, flow.RunnerReport{ActionID: first.ID, Step: first.Step}); err != flow.ErrStaleAction {
		t.Errorf("the retried report of step 1: %v", err)
	}
	if len(x.Executed) != 3 {
		t.Errorf("a stale report changed the execution: %s", trace(x))
	}
}

// TestSubstitutionReferences: what counts as a ${name} reference.
func TestSubstitutionReferences(t *testing.T) {
	e := &flow.Engine{}
	vars := map[string]string{"a": "A", "b": "B", "a b": "AB", "": "EMPTY"}
	for in, want := range map[string]string{
		"${a}":          "A",
		"x${a}y${b}z":   "xAyBz",
		"${a${b}":       "${aB",
		"${a}}":         "A}",
		"$${a}":         "$A",
		"${a b}":        "AB",
		"${}":           "EMPTY",
		"${missing}!":   "!",
		"${unclosed":    "${unclosed",
		"${{a}}":        "${{a}}",
		"no refs":       "no refs",
		"${a}${b}${a}":  "ABA",
		"${voipbin.x}.": ".",
	} {
		x := flow.NewExecution(flow.Origin{}, mustActions(t, actions(`{"type":"talk","option":{"text":`+strconvQuote(in)+`}}`)), nil)
		for k, v := range vars {
			x.Variables[k] = v
		}
		if err := e.Simulate(context.Background(), x, flow.Script{}); err != nil {
			t.Fatal(err)
		}
		var o struct{ Text string }
		if err := json.Unmarshal(x.Executed[0].Option, &o); err != nil {
			t.Fatal(err)
		}
		if o.Text != want {
			t.Errorf("%q: got %q, want %q", in, o.Text, want)
		}
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
