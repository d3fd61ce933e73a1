package flow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// The engine at work: an execution prepared, started, advanced on a runner's report through its control
// actions (each run by its type's rule), and driven to its end by a script in a simulation.

// NewExecution prepares an execution of actions (those of a flow at a revision, or an inline list) with the
// client's variables. Client variables of the voipbin. namespace (in any case, with spaces around) are ignored, as
// VoIPbin ignores them; the voipbin.activeflow variables are set from the origin.
func NewExecution(o Origin, actions []Action, variables map[string]string) *Execution {
	vars := make(map[string]string, len(o.Inherited)+len(variables)+8)
	for k, v := range o.Inherited {
		if !hasPrefixFold(strings.TrimSpace(k), activeflowPrefix) {
			vars[k] = v
		}
	}
	for k, v := range variables {
		if !reserved(k) {
			vars[k] = v
		}
	}
	for k, v := range o.Runner {
		if name, ok := runnerName(k); ok {
			vars[name] = v
		}
	}
	refType := o.ReferenceType
	if refType == "" {
		refType = defaultReferenceType
	}
	vars[VarActiveflowID] = o.ActiveflowID.String()
	vars[VarActiveflowFlowID] = o.FlowID.String()
	vars[VarActiveflowReferenceType] = refType
	vars[VarActiveflowReferenceID] = o.ReferenceID.String()
	vars[VarActiveflowReferenceAFID] = o.ReferenceActiveflowID.String()
	vars[VarActiveflowCompleteCount] = strconv.Itoa(o.CompleteCount)
	if o.FlowID != uuid.Nil {
		vars[VarFlowID] = o.FlowID.String()
	}
	return &Execution{
		Version:   ExecutionVersion,
		Frames:    []Frame{{FlowID: o.FlowID, Revision: o.Revision, Actions: actions}},
		Variables: vars,
		Loops:     map[string]int{},
		Executed:  []Executed{},
	}
}

// Start runs the execution up to its first runner action (x.Current), or to its end.
func (e *Engine) Start(ctx context.Context, x *Execution) (Step, error) {
	if x.Steps > 0 || x.Ended {
		return Step{}, errors.New("flow: execution already started")
	}
	st := &Step{}
	if !x.fits(e.Limits, 0) {
		x.end(EndStateLimit)
		return st.ended(x), nil
	}
	err := e.advance(ctx, x, st)
	return st.ended(x), err
}

// ended notes the end of x in a step that ran while it was running.
func (st *Step) ended(x *Execution) Step {
	if x.Ended {
		st.Ended, st.EndReason = true, x.EndReason
	}
	return *st
}

// Next records that the runner finished the current action, merges the variables it reports (those of
// voipbin.call and the client's own; other voipbin. variables are ignored), and runs on to the next runner
// action or the end. Variables that would pass the limits are refused with a *LimitError, changing nothing.
func (e *Engine) Next(ctx context.Context, x *Execution, r RunnerReport) (Step, error) {
	if x.Ended || x.Current == nil {
		return Step{}, ErrEnded
	}
	if x.Current.ID != r.ActionID || (r.Step != 0 && r.Step != x.Current.Step) {
		return Step{}, ErrStaleAction
	}
	vars := RunnerVariables(r.Variables)
	if err := x.checkMerge(vars, e.Limits); err != nil {
		return Step{}, err
	}
	for k, v := range vars {
		x.Variables[k] = v
	}
	x.size = 0
	done := x.Current
	x.Current = nil
	st := &Step{}
	if r := ruleOf(done.Type); r.terminal {
		x.end(r.endReason)
		return st.ended(x), nil
	}
	x.continueAfter(&done.Action)
	err := e.advance(ctx, x, st)
	return st.ended(x), err
}

// advance runs control actions until a runner action is current or the execution ends. It stops at the
// request's deadline: the execution is then left as it was read, unsaved.
func (e *Engine) advance(ctx context.Context, x *Execution, st *Step) error {
	for steps := 0; ; steps++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Past the end of a frame: back to the frame that fetched it, or the end.
		for x.top().Next >= len(x.top().Actions) {
			if len(x.Frames) == 1 {
				x.end(EndFinished)
				return nil
			}
			x.Frames = x.Frames[:len(x.Frames)-1]
			x.size = 0
		}
		switch {
		case x.Steps >= e.Limits.maxExecuted():
			x.end(EndExecutedLimit)
			return nil
		case steps >= e.Limits.maxControlSteps():
			x.end(EndControlStepLimit)
			return nil
		}
		f := x.top()
		a := f.Actions[f.Next]
		run := Executed{Action: a, Step: x.Steps + 1, FlowID: f.FlowID, Revision: f.Revision, Source: f.Source, TMExecute: e.now()}
		option, ok := substitute(ctx, a.Option, x.Variables, e.Limits.maxOption())
		if !ok {
			if err := ctx.Err(); err != nil {
				return err
			}
			x.end(EndOptionLimit)
			return nil
		}
		run.Option = option
		if !x.fits(e.Limits, executedSize(&run)) {
			x.end(EndStateLimit)
			return nil
		}
		r := ruleOf(a.Type)
		if !r.control {
			x.record(run)
			st.Executed = append(st.Executed, run)
			cur := run
			x.Current = &cur
			return nil
		}
		c := &call{ctx: ctx, e: e, x: x, f: f, a: &run.Action, raw: a.Option, step: st, stepNo: run.Step}
		if err := r.run(c); err != nil {
			return err
		}
		run.Decision = c.d
		run.Decision.Reason = truncate(run.Decision.Reason, 4*maxReasonValue)
		x.record(run)
		st.Executed = append(st.Executed, run)
		if x.Ended {
			return nil
		}
	}
}

// Simulate runs an execution to its end with a scripted runner that completes every runner action at once.
func (e *Engine) Simulate(ctx context.Context, x *Execution, s Script) error {
	_, err := e.Drive(ctx, x, s, nil)
	return err
}

// Drive runs an execution to its end as Simulate does, through Start (unless it has started) and Next, exactly
// as a runner drives an activeflow. Between two steps, between (when not nil) may replace the execution, as
// storing it and reading it back does; the execution it answers is the one that ended.
func (e *Engine) Drive(ctx context.Context, x *Execution, s Script, between func(*Execution) (*Execution, error)) (*Execution, error) {
	if x.Steps == 0 && !x.Ended {
		if _, err := e.Start(ctx, x); err != nil {
			return x, err
		}
	}
	digits := s.Digits
	for i := 0; !x.Ended; i++ {
		if between != nil {
			var err error
			if x, err = between(x); err != nil {
				return x, err
			}
		}
		vars := map[string]string{}
		if i < len(s.Steps) {
			for k, v := range s.Steps[i] {
				vars[k] = v
			}
		}
		if _, set := vars[VarDigits]; !set && x.Current.Type == TypeDigitsReceive && len(digits) > 0 {
			vars[VarDigits], digits = digits[0], digits[1:]
		}
		if _, err := e.Next(ctx, x, RunnerReport{ActionID: x.Current.ID, Step: x.Current.Step, Variables: vars}); err != nil {
			return x, fmt.Errorf("flow: step %d: %w", x.Current.Step, err)
		}
	}
	return x, nil
}
