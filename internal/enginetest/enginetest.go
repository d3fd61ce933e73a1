// Package enginetest holds the engine's table of cases (flow/testdata/engine/<type>.json, one file for each action
// type, beside the type's file in flow/; runner.json for runner actions and next_id) and the way every test runs
// them: in memory, through the stored format, through a real store and over HTTP. One table, one trace
// notation, so that every path must give the same answer.
package enginetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// DefaultNow is the clock of a case that names none: a Monday, 08:30 UTC.
var DefaultNow = time.Date(2026, 11, 23, 8, 30, 0, 0, time.UTC)

// Case is one case of the table: actions, a script, and the trace and end they must give.
type Case struct {
	Name      string              `json:"name"`
	Actions   json.RawMessage     `json:"actions"`
	Variables map[string]string   `json:"variables"`
	Digits    []string            `json:"digits"`
	Steps     []map[string]string `json:"steps"`
	Now       string              `json:"now"`
	Trace     string              `json:"trace"`
	End       string              `json:"end"`
}

// Clock is the case's clock.
func (c Case) Clock(t testing.TB) time.Time {
	t.Helper()
	if c.Now == "" {
		return DefaultNow
	}
	now, err := time.Parse(flow.TimeLayout, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return now
}

// Script is the case's runner script.
func (c Case) Script() flow.Script { return flow.Script{Digits: c.Digits, Steps: c.Steps} }

// Cases reads the table: every file of flow/testdata/engine, in name order. A file is named after the action type
// its cases are about (runner.json: the runner actions and next_id), and each of its cases uses that type.
func Cases(t testing.TB) []Case {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "flow", "testdata", "engine")
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no engine cases in %s: %v", dir, err)
	}
	var cases []Case
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var some []Case
		if err := json.Unmarshal(b, &some); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		typ := flow.Type(strings.TrimSuffix(filepath.Base(path), ".json"))
		for _, c := range some {
			if typ != "runner" && !usesType(t, c, typ) {
				t.Fatalf("%s: case %q has no %s action", path, c.Name, typ)
			}
		}
		cases = append(cases, some...)
	}
	return cases
}

// usesType reports whether a case has an action of type typ.
func usesType(t testing.TB, c Case, typ flow.Type) bool {
	t.Helper()
	var actions []struct {
		Type flow.Type `json:"type"`
	}
	if err := json.Unmarshal(c.Actions, &actions); err != nil {
		t.Fatalf("case %q: %v", c.Name, err)
	}
	for _, a := range actions {
		if a.Type == typ {
			return true
		}
	}
	return false
}

// Step is one executed action as a trace shows it.
type Step struct {
	Type     string
	Decision string // a control action's result; "" for runner actions
}

// Trace renders what an execution ran: "type" for runner actions, "type:result" for control actions.
func Trace(steps []Step) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = s.Type
		if s.Decision != "" {
			parts[i] += ":" + s.Decision
		}
	}
	return strings.Join(parts, " ")
}

// Steps lists an execution's executed actions as steps.
func Steps(x *flow.Execution) []Step {
	out := make([]Step, len(x.Executed))
	for i, r := range x.Executed {
		out[i].Type = string(r.Type)
		if r.Decision != nil {
			out[i].Decision = r.Decision.Result
		}
	}
	return out
}

// Run runs a case on an engine, as Drive does with between, and checks its trace, its end, and that every
// decision says why and belongs to a control action.
func Run(t *testing.T, e *flow.Engine, c Case, between func(*flow.Execution) (*flow.Execution, error)) *flow.Execution {
	t.Helper()
	def, rep := flow.Parse([]byte(`{"actions":`+string(c.Actions)+`}`), flow.Limits{})
	if !rep.Valid() {
		t.Fatalf("%s: %v", c.Name, rep.Err())
	}
	now := c.Clock(t)
	e.Now = func() time.Time { return now }
	x := flow.NewExecution(flow.Origin{}, def.Actions, c.Variables)
	x, err := e.Drive(context.Background(), x, c.Script(), between)
	if err != nil {
		t.Fatal(err)
	}
	if got := Trace(Steps(x)); got != c.Trace || x.EndReason != c.End {
		t.Errorf("got %q ending %s\nwant %q ending %s", got, x.EndReason, c.Trace, c.End)
	}
	for i, r := range x.Executed {
		if r.Step != i+1 {
			t.Errorf("executed[%d] is step %d", i, r.Step)
		}
		if r.Decision != nil && r.Decision.Reason == "" {
			t.Errorf("%s: a decision without a reason", r.Type)
		}
	}
	return x
}

// Stored keeps one execution as a store keeps it in the stored format (version 2), in memory: the hot state,
// the action lists stored once beside it, and the actions executed as rows. Between saves the execution and
// reads it back whole, as storing it between two steps and reading it for an answer does.
type Stored struct {
	// Flows answers a flow's revision, for frames of flows (nil: there are none).
	Flows  func(id uuid.UUID, revision int) ([]flow.Action, error)
	frames map[int][]byte
	rows   [][]byte
	// States are the hot states written, in order.
	States [][]byte
}

// Between saves x and answers it read back, with its whole history.
func (s *Stored) Between(x *flow.Execution) (*flow.Execution, error) {
	state, err := x.Encode()
	if err != nil {
		return nil, err
	}
	if s.frames == nil {
		s.frames = map[int][]byte{}
	}
	for _, f := range x.NewFrames() {
		if _, dup := s.frames[f.Key]; dup {
			return nil, fmt.Errorf("frame key %d stored twice", f.Key)
		}
		b, err := flow.EncodeActions(f.Actions)
		if err != nil {
			return nil, err
		}
		s.frames[f.Key] = b
	}
	for _, r := range x.Unsaved() {
		if r.Step != len(s.rows)+1 {
			return nil, fmt.Errorf("step %d appended after %d rows", r.Step, len(s.rows))
		}
		b, err := flow.EncodeExecuted(&r)
		if err != nil {
			return nil, err
		}
		s.rows = append(s.rows, b)
	}
	x.Saved()
	s.States = append(s.States, state)
	y, err := flow.DecodeExecution(state)
	if err != nil {
		return nil, err
	}
	err = y.Resolve(func(f *flow.Frame) ([]flow.Action, error) {
		if f.OfFlow() {
			if s.Flows == nil {
				return nil, fmt.Errorf("no flow %s", f.FlowID)
			}
			return s.Flows(f.FlowID, f.Revision)
		}
		b, ok := s.frames[f.Key]
		if !ok {
			return nil, fmt.Errorf("no frame %d", f.Key)
		}
		return flow.DecodeActions(b)
	})
	if err != nil {
		return nil, err
	}
	history := make([]flow.Executed, len(s.rows))
	for i, b := range s.rows {
		if history[i], err = flow.DecodeExecuted(b); err != nil {
			return nil, err
		}
	}
	y.WithHistory(history)
	return y, nil
}
