package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
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
func trace(x *flow.Execution) string {
	var parts []string
	for _, r := range x.Executed {
		p := string(r.Type)
		if r.Decision != nil && r.Type != flow.TypeDigitsReceive {
			p += ":" + r.Decision.Result
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func simulate(t *testing.T, e *flow.Engine, doc string, vars map[string]string, digits ...string) *flow.Execution {
	t.Helper()
	x := flow.NewExecution(uuid.Nil, 0, mustActions(t, doc), vars)
	if err := e.Simulate(context.Background(), x, flow.Script{Digits: digits}); err != nil {
		t.Fatal(err)
	}
	return x
}

// EngineCase is one case of testdata/engine_cases.json: actions, a script, and the trace and end they must give.
// The server's simulate tests replay the same file over HTTP.
type EngineCase struct {
	Name      string            `json:"name"`
	Actions   json.RawMessage   `json:"actions"`
	Variables map[string]string `json:"variables"`
	Digits    []string          `json:"digits"`
	Now       string            `json:"now"`
	Trace     string            `json:"trace"`
	End       string            `json:"end"`
}

func TestEngine(t *testing.T) {
	b, err := os.ReadFile("testdata/engine_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []EngineCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			now := monday0830
			if c.Now != "" {
				if now, err = time.Parse(flow.TimeLayout, c.Now); err != nil {
					t.Fatal(err)
				}
			}
			engine := &flow.Engine{Now: func() time.Time { return now }}
			x := simulate(t, engine, `{"actions":`+string(c.Actions)+`}`, c.Variables, c.Digits...)
			if got := trace(x); got != c.Trace || x.EndReason != c.End {
				t.Errorf("got %q ending %s\nwant %q ending %s", got, x.EndReason, c.Trace, c.End)
			}
			for _, r := range x.Executed {
				if r.Decision != nil && r.Decision.Reason == "" {
					t.Errorf("%s: a decision without a reason", r.Type)
				}
			}
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
	x := simulate(t, &flow.Engine{MaxExecuted: 10}, loop, nil)
	if x.EndReason != flow.EndExecutedLimit || len(x.Executed) != 10 {
		t.Errorf("got %s after %d actions", x.EndReason, len(x.Executed))
	}
	// Control actions alone: the control-step limit of one advance ends it.
	spin := actions(`{"id":"a","type":"branch","option":{"default_target_id":"a"}}`)
	x = simulate(t, &flow.Engine{MaxExecuted: 5000, MaxControlSteps: 50}, spin, nil)
	if x.EndReason != flow.EndControlStepLimit || len(x.Executed) != 50 {
		t.Errorf("got %s after %d actions", x.EndReason, len(x.Executed))
	}
	// Defaults: 100 executed actions.
	x = simulate(t, &flow.Engine{}, loop, nil)
	if x.EndReason != flow.EndExecutedLimit || len(x.Executed) != flow.DefaultMaxExecuted {
		t.Errorf("defaults: got %s after %d actions", x.EndReason, len(x.Executed))
	}
}

func TestFetchFlow(t *testing.T) {
	sub := uuid.New()
	subActions := mustActions(t, actions(`{"type":"talk","option":{"text":"from the other flow"}}`))
	flows := func(_ context.Context, id uuid.UUID) ([]flow.Action, int, error) {
		if id == sub {
			return subActions, 7, nil
		}
		return nil, 0, flow.ErrFlowNotFound
	}
	e := &flow.Engine{Flows: flows}
	x := simulate(t, e, actions(`{"type":"answer"}`, fmt.Sprintf(`{"type":"fetch_flow","option":{"flow_id":%q}}`, sub), `{"type":"hangup"}`), nil)
	if got := trace(x); got != "answer fetch_flow:fetch talk hangup" {
		t.Fatalf("got %q", got)
	}
	if r := x.Executed[2]; r.FlowID != sub || r.Revision != 7 {
		t.Errorf("the fetched action must record its flow and revision: %+v", r)
	}
	if !strings.Contains(x.Executed[1].Decision.Reason, "revision 7") {
		t.Errorf("decision: %+v", x.Executed[1].Decision)
	}
	x = simulate(t, e, actions(fmt.Sprintf(`{"type":"fetch_flow","option":{"flow_id":%q}}`, uuid.New())), nil)
	if x.EndReason != flow.EndFetchFlowNotFound {
		t.Errorf("missing flow: ended %s", x.EndReason)
	}
}

func TestNextAndStop(t *testing.T) {
	e := &flow.Engine{}
	x := flow.NewExecution(uuid.Nil, 0, mustActions(t, actions(`{"type":"answer"}`, `{"type":"talk","option":{"text":"hi"}}`)), nil)
	ctx := context.Background()
	if err := e.Start(ctx, x); err != nil || x.Current == nil || x.Current.Type != flow.TypeAnswer {
		t.Fatalf("start: %v %+v", err, x.Current)
	}
	if err := e.Start(ctx, x); err == nil {
		t.Errorf("a second start must fail")
	}
	first := x.Current.ID
	if err := e.Next(ctx, x, uuid.New(), nil); err != flow.ErrStaleAction {
		t.Errorf("stale action: got %v", err)
	}
	if err := e.Next(ctx, x, first, map[string]string{"k": "v"}); err != nil || x.Current.Type != flow.TypeTalk || x.Variables["k"] != "v" {
		t.Fatalf("next: %v %+v", err, x)
	}
	if err := e.Next(ctx, x, first, nil); err != flow.ErrStaleAction {
		t.Errorf("reporting the previous action again: got %v", err)
	}
	x.Stop()
	x.Stop()
	if !x.Ended || x.EndReason != flow.EndStopped || x.Current != nil {
		t.Errorf("stopped: %+v", x)
	}
	if err := e.Next(ctx, x, first, nil); err != flow.ErrEnded {
		t.Errorf("next after stop: got %v", err)
	}
}
