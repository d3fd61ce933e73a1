package flow_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/internal/enginetest"
	"github.com/google/uuid"
)

var monday0830 = time.Date(2026, 11, 23, 8, 30, 0, 0, time.UTC) // a Monday

func mustActions(t *testing.T, doc string) []flow.Action {
	t.Helper()
	def, rep := flow.Parse([]byte(doc), flow.Limits{})
	if !rep.Valid() {
		t.Fatalf("%s: %v", doc, rep.Err())
	}
	return def.Actions
}

// trace renders what an execution ran: "type" for runner actions, "type:result" for control actions.
func trace(x *flow.Execution) string { return enginetest.Trace(enginetest.Steps(x)) }

func simulate(t *testing.T, e *flow.Engine, doc string, vars map[string]string, digits ...string) *flow.Execution {
	t.Helper()
	x := flow.NewExecution(flow.Origin{}, mustActions(t, doc), vars)
	if err := e.Simulate(context.Background(), x, flow.Script{Digits: digits}); err != nil {
		t.Fatal(err)
	}
	return x
}

// TestEngine runs the engine's table in memory, and again with the execution encoded in its stored format and
// decoded between every two steps: both must give the table's trace.
func TestEngine(t *testing.T) {
	for _, c := range enginetest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			enginetest.Run(t, &flow.Engine{}, c, nil)
			enginetest.Run(t, &flow.Engine{}, c, (&enginetest.Stored{}).Between)
		})
	}
}

func TestSubstitution(t *testing.T) {
	e := &flow.Engine{Now: func() time.Time { return monday0830 }}
	x := simulate(t, e, actions(`{"type":"talk","option":{"text":"Hi ${name}, ${missing}!","nested":{"list":["${name}"]},"${name}":"keys stay"}}`),
		map[string]string{"name": "Ana"})
	if got := string(x.Executed[0].Option); got != `{"${name}":"keys stay","nested":{"list":["Ana"]},"text":"Hi Ana, !"}` {
		t.Errorf("got %s", got)
	}
}

// TestDatetimeInUTC: the clock is read in UTC, whatever its location.
func TestDatetimeInUTC(t *testing.T) {
	e := &flow.Engine{Now: func() time.Time { return monday0830.In(time.FixedZone("KST", 9*3600)) }}
	x := simulate(t, e, actions(`{"type":"condition_datetime","option":{"condition":"==","hour":8,"false_target_id":"f"}}`, `{"type":"stop"}`, `{"id":"f","type":"hangup"}`), nil)
	if x.EndReason != flow.EndStop {
		t.Errorf("08:30 UTC (17:30 KST) is hour 8: %s", x.Executed[0].Decision.Reason)
	}
}

func TestLimits(t *testing.T) {
	// Runner actions in a loop: the executed-action limit ends it.
	loop := actions(`{"id":"a","type":"beep"}`, `{"type":"goto","option":{"target_id":"a","loop_count":1000}}`)
	x := simulate(t, &flow.Engine{Limits: flow.Limits{MaxExecuted: 10}}, loop, nil)
	if x.EndReason != flow.EndExecutedLimit || len(x.Executed) != 10 {
		t.Errorf("got %s after %d actions", x.EndReason, len(x.Executed))
	}
	// Control actions alone: the control-step limit of one advance ends it.
	spin := actions(`{"id":"a","type":"branch","option":{"default_target_id":"a"}}`)
	x = simulate(t, &flow.Engine{Limits: flow.Limits{MaxExecuted: 5000, MaxControlSteps: 50}}, spin, nil)
	if x.EndReason != flow.EndControlStepLimit || len(x.Executed) != 50 {
		t.Errorf("got %s after %d actions", x.EndReason, len(x.Executed))
	}
	// Defaults: 100 executed actions.
	x = simulate(t, &flow.Engine{}, loop, nil)
	if x.EndReason != flow.EndExecutedLimit || len(x.Executed) != flow.DefaultMaxExecuted {
		t.Errorf("defaults: got %s after %d actions", x.EndReason, len(x.Executed))
	}
}

func TestNextAndStop(t *testing.T) {
	e := &flow.Engine{}
	x := flow.NewExecution(flow.Origin{}, mustActions(t, actions(`{"type":"answer"}`, `{"type":"talk","option":{"text":"hi"}}`)), nil)
	ctx := context.Background()
	if _, err := e.Start(ctx, x); err != nil || x.Current == nil || x.Current.Type != flow.TypeAnswer {
		t.Fatalf("start: %v %+v", err, x.Current)
	}
	if _, err := e.Start(ctx, x); err == nil {
		t.Errorf("a second start must fail")
	}
	first := x.Current.ID
	if _, err := e.Next(ctx, x, flow.RunnerReport{ActionID: uuid.New()}); err != flow.ErrStaleAction {
		t.Errorf("stale action: got %v", err)
	}
	if _, err := e.Next(ctx, x, flow.RunnerReport{ActionID: first, Variables: map[string]string{"k": "v"}}); err != nil || x.Current.Type != flow.TypeTalk || x.Variables["k"] != "v" {
		t.Fatalf("next: %v %+v", err, x)
	}
	if _, err := e.Next(ctx, x, flow.RunnerReport{ActionID: first}); err != flow.ErrStaleAction {
		t.Errorf("reporting the previous action again: got %v", err)
	}
	x.Stop()
	x.Stop()
	if !x.Ended || x.EndReason != flow.EndStopped || x.Current != nil {
		t.Errorf("stopped: %+v", x)
	}
	if _, err := e.Next(ctx, x, flow.RunnerReport{ActionID: first}); err != flow.ErrEnded {
		t.Errorf("next after stop: got %v", err)
	}
}
