package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Execution end reasons: why an execution ended. Stable codes.
const (
	EndFinished           = "finished"              // it ran past its last action
	EndStop               = "stop"                  // a stop action
	EndHangup             = "hangup"                // a hangup action completed
	EndStopped            = "stopped"               // stopped through the API
	EndExecutedLimit      = "executed_action_limit" // too many executed actions
	EndControlStepLimit   = "control_step_limit"    // too many control steps in one advance
	EndFetchFlowNotFound  = "fetch_flow_not_found"  // fetch_flow named a flow that does not exist
	DefaultMaxExecuted    = 100
	DefaultMaxControlStep = 1000
	// maxFrames bounds nested fetch_flow.
	maxFrames = 32
)

// Variables every execution knows.
const (
	VarDigits       = "voipbin.call.digits"
	VarCallStatus   = "voipbin.call.status"
	VarActiveflowID = "voipbin.activeflow.id"
	VarFlowID       = "voipbin.flow.id"
)

// ErrFlowNotFound is what a FlowSource answers for a flow that does not exist (or was deleted).
var ErrFlowNotFound = errors.New("flow not found")

// FlowSource reads the current revision of a flow of the execution's customer, for fetch_flow.
type FlowSource func(ctx context.Context, id uuid.UUID) (actions []Action, revision int, err error)

// Engine runs executions. Control actions (goto, branch, condition_*, variable_set, stop, fetch_flow) run inside
// it; every other action is handed to the runner, the telephony side, which reports back when it is done. Given
// the same execution, inputs and clock, it always does the same.
type Engine struct {
	// MaxExecuted bounds the actions an execution runs (default DefaultMaxExecuted).
	MaxExecuted int
	// MaxControlSteps bounds the control actions run in one advance (default DefaultMaxControlStep).
	MaxControlSteps int
	// Now is the clock: condition_datetime and tm_execute read it. Times are taken in UTC.
	Now func() time.Time
	// Flows reads flows for fetch_flow.
	Flows FlowSource
}

// Frame is an action list being run: the flow's own, or one that fetch_flow started.
type Frame struct {
	FlowID   uuid.UUID `json:"flow_id,omitzero"`
	Revision int       `json:"revision,omitzero"`
	Actions  []Action  `json:"actions"`
	// Next is the index of the action to run next.
	Next int `json:"next"`
}

// Decision says what a control action decided, and why.
type Decision struct {
	// Result: "continue" (to the next action), "jump" (to TargetID), "set", "fetch" or "end".
	Result   string    `json:"result"`
	TargetID uuid.UUID `json:"target_id,omitzero"`
	Reason   string    `json:"reason"`
}

// Executed is one action an execution ran, as it ran: options with variables substituted.
type Executed struct {
	Action
	FlowID    uuid.UUID `json:"flow_id,omitzero"`
	Revision  int       `json:"flow_revision,omitzero"`
	TMExecute time.Time `json:"tm_execute"`
	Decision  *Decision `json:"decision,omitempty"`
}

// Execution is the whole state of one execution. It is plain data: stored between advances as JSON.
type Execution struct {
	Frames    []Frame           `json:"frames"`
	Variables map[string]string `json:"variables"`
	// Loops counts the jumps of each goto action.
	Loops map[string]int `json:"loops,omitempty"`
	// Current is the action handed to the runner, awaiting its result; nil when ended.
	Current   *Executed  `json:"current,omitempty"`
	Executed  []Executed `json:"executed"`
	Ended     bool       `json:"ended"`
	EndReason string     `json:"end_reason,omitempty"`
}

// NewExecution prepares an execution of actions (those of a flow at a revision, or an inline list).
func NewExecution(flowID uuid.UUID, revision int, actions []Action, variables map[string]string) *Execution {
	vars := make(map[string]string, len(variables)+2)
	for k, v := range variables {
		vars[k] = v
	}
	if flowID != uuid.Nil {
		vars[VarFlowID] = flowID.String()
	}
	return &Execution{
		Frames:    []Frame{{FlowID: flowID, Revision: revision, Actions: actions}},
		Variables: vars,
		Loops:     map[string]int{},
		Executed:  []Executed{},
	}
}

func (e *Engine) maxExecuted() int {
	if e.MaxExecuted > 0 {
		return e.MaxExecuted
	}
	return DefaultMaxExecuted
}

func (e *Engine) maxControlSteps() int {
	if e.MaxControlSteps > 0 {
		return e.MaxControlSteps
	}
	return DefaultMaxControlStep
}

func (e *Engine) now() time.Time {
	if e.Now == nil {
		return time.Now().UTC()
	}
	return e.Now().UTC()
}

// Start runs the execution up to its first runner action (x.Current), or to its end.
func (e *Engine) Start(ctx context.Context, x *Execution) error {
	if len(x.Executed) > 0 || x.Ended {
		return errors.New("flow: execution already started")
	}
	return e.advance(ctx, x)
}

// ErrStaleAction is returned by Next when the runner reports an action that is not the current one.
var ErrStaleAction = errors.New("flow: not the current action")

// ErrEnded is returned by Next for an execution that has ended.
var ErrEnded = errors.New("flow: the execution has ended")

// Next records that the runner finished the current action, merges the variables it reports, and runs on to the
// next runner action or the end.
func (e *Engine) Next(ctx context.Context, x *Execution, actionID uuid.UUID, variables map[string]string) error {
	if x.Ended || x.Current == nil {
		return ErrEnded
	}
	if x.Current.ID != actionID {
		return ErrStaleAction
	}
	for k, v := range variables {
		x.Variables[k] = v
	}
	done := x.Current
	x.Current = nil
	if done.Type == TypeHangup {
		x.end(EndHangup)
		return nil
	}
	x.continueAfter(&done.Action)
	return e.advance(ctx, x)
}

// Stop ends a running execution. Stopping an ended one changes nothing.
func (x *Execution) Stop() {
	if !x.Ended {
		x.Current = nil
		x.end(EndStopped)
	}
}

func (x *Execution) end(reason string) {
	x.Ended, x.EndReason, x.Current = true, reason, nil
}

func (x *Execution) top() *Frame { return &x.Frames[len(x.Frames)-1] }

// continueAfter moves the cursor to where an execution goes after a: its next_id, else the next action.
func (x *Execution) continueAfter(a *Action) {
	f := x.top()
	if a.NextID != uuid.Nil {
		if i := indexOf(f.Actions, a.NextID); i >= 0 {
			f.Next = i
			return
		}
	}
	f.Next = indexOf(f.Actions, a.ID) + 1
}

func indexOf(actions []Action, id uuid.UUID) int {
	for i, a := range actions {
		if a.ID == id {
			return i
		}
	}
	return -1
}

// advance runs control actions until a runner action is current or the execution ends.
func (e *Engine) advance(ctx context.Context, x *Execution) error {
	for steps := 0; ; steps++ {
		if steps >= e.maxControlSteps() {
			x.end(EndControlStepLimit)
			return nil
		}
		// Past the end of a frame: back to the frame that fetched it, or the end.
		for x.top().Next >= len(x.top().Actions) {
			if len(x.Frames) == 1 {
				x.end(EndFinished)
				return nil
			}
			x.Frames = x.Frames[:len(x.Frames)-1]
		}
		if len(x.Executed) >= e.maxExecuted() {
			x.end(EndExecutedLimit)
			return nil
		}
		f := x.top()
		a := f.Actions[f.Next]
		run := Executed{Action: a, FlowID: f.FlowID, Revision: f.Revision, TMExecute: e.now()}
		run.Option = substitute(a.Option, x.Variables)
		spec, known := Lookup(a.Type)
		if !known || !spec.Control {
			x.Executed = append(x.Executed, run)
			x.Current = &run
			return nil
		}
		decision, err := e.control(ctx, x, &run)
		if err != nil {
			return err
		}
		run.Decision = decision
		x.Executed = append(x.Executed, run)
		if x.Ended {
			return nil
		}
	}
}

// control runs one control action and moves the cursor.
func (e *Engine) control(ctx context.Context, x *Execution, run *Executed) (*Decision, error) {
	a := &run.Action
	f := x.top()
	var o controlOptions
	if len(run.Option) > 0 {
		// Options of stored flows were validated; an option that no longer decodes acts as empty.
		_ = json.Unmarshal(run.Option, &o)
	}
	jump := func(target uuid.UUID, reason string) *Decision {
		f.Next = indexOf(f.Actions, target)
		return &Decision{Result: "jump", TargetID: target, Reason: reason}
	}
	cont := func(reason string) *Decision {
		x.continueAfter(a)
		return &Decision{Result: "continue", Reason: reason}
	}
	target := func(ref string) (uuid.UUID, bool) {
		id, ok := ParseID(ref)
		return id, ok && id != uuid.Nil && indexOf(f.Actions, id) >= 0
	}

	switch a.Type {
	case TypeGoto:
		key := f.FlowID.String() + "/" + a.ID.String()
		to, ok := target(o.TargetID)
		switch {
		case !ok:
			return cont("the target is not in this flow"), nil
		case x.Loops[key] >= o.LoopCount:
			return cont(fmt.Sprintf("loop_count %d reached", o.LoopCount)), nil
		}
		if x.Loops == nil { // an execution read back from the store before its first jump has none
			x.Loops = map[string]int{}
		}
		x.Loops[key]++
		return jump(to, fmt.Sprintf("jump %d of %d", x.Loops[key], o.LoopCount)), nil

	case TypeBranch:
		name := o.Variable
		if name == "" {
			name = VarDigits
		}
		value := x.Variables[name]
		if ref, found := o.TargetIDs[value]; found {
			if to, ok := target(ref); ok {
				return jump(to, fmt.Sprintf("%s is %q: target_ids[%q]", name, value, value)), nil
			}
		}
		if to, ok := target(o.DefaultTargetID); ok {
			return jump(to, fmt.Sprintf("%s is %q, which no target matches: default_target_id", name, value)), nil
		}
		return cont(fmt.Sprintf("%s is %q, which no target matches, and there is no default", name, value)), nil

	case TypeConditionVariable, TypeConditionCallDigits, TypeConditionCallStatus, TypeConditionDatetime:
		holds, why := e.evaluate(a.Type, &o, x.Variables)
		if holds {
			return cont("holds: " + why), nil
		}
		if to, ok := target(o.FalseTargetID); ok {
			return jump(to, "does not hold: "+why), nil
		}
		return cont("does not hold: " + why + "; no false_target_id"), nil

	case TypeVariableSet:
		x.Variables[o.Key] = o.Value // already substituted
		x.continueAfter(a)
		return &Decision{Result: "set", Reason: fmt.Sprintf("%s = %q", o.Key, o.Value)}, nil

	case TypeStop:
		x.end(EndStop)
		return &Decision{Result: "end", Reason: "stop"}, nil

	case TypeFetchFlow:
		id, ok := ParseID(o.FlowID)
		var actions []Action
		var revision int
		err := ErrFlowNotFound
		if ok && e.Flows != nil && len(x.Frames) < maxFrames {
			actions, revision, err = e.Flows(ctx, id)
		}
		if errors.Is(err, ErrFlowNotFound) {
			x.end(EndFetchFlowNotFound)
			return &Decision{Result: "end", Reason: fmt.Sprintf("flow %s not found", o.FlowID)}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("flow: fetch_flow %s: %w", id, err)
		}
		x.continueAfter(a) // where to come back to
		x.Frames = append(x.Frames, Frame{FlowID: id, Revision: revision, Actions: actions})
		return &Decision{Result: "fetch", Reason: fmt.Sprintf("flow %s at revision %d", id, revision)}, nil
	}
	return cont(""), nil
}

// controlOptions are the options the control actions read.
type controlOptions struct {
	TargetID        string            `json:"target_id"`
	LoopCount       int               `json:"loop_count"`
	Variable        string            `json:"variable"`
	TargetIDs       map[string]string `json:"target_ids"`
	DefaultTargetID string            `json:"default_target_id"`
	FalseTargetID   string            `json:"false_target_id"`
	Condition       string            `json:"condition"`
	ValueType       string            `json:"value_type"`
	ValueString     string            `json:"value_string"`
	ValueNumber     float64           `json:"value_number"`
	ValueLength     int               `json:"value_length"`
	Length          int               `json:"length"`
	Key             string            `json:"key"`
	Value           string            `json:"value"`
	Status          string            `json:"status"`
	Minute          *int              `json:"minute"`
	Hour            *int              `json:"hour"`
	Day             *int              `json:"day"`
	Month           *int              `json:"month"`
	Weekdays        []int             `json:"weekdays"`
	FlowID          string            `json:"flow_id"`
}

// Script is what a simulated runner does: the digits it "receives", one string per digits_receive (then "").
type Script struct {
	Digits []string
}

// Simulate runs an execution to its end with a scripted runner that completes every runner action at once, and
// feeds digits_receive from the script. Each digits_receive notes the digits it received.
func (e *Engine) Simulate(ctx context.Context, x *Execution, s Script) error {
	if err := e.Start(ctx, x); err != nil {
		return err
	}
	digits := s.Digits
	for !x.Ended {
		cur := x.Current
		var vars map[string]string
		if cur.Type == TypeDigitsReceive {
			d := ""
			if len(digits) > 0 {
				d, digits = digits[0], digits[1:]
			}
			vars = map[string]string{VarDigits: d}
			x.Executed[len(x.Executed)-1].Decision = &Decision{Result: "continue",
				Reason: fmt.Sprintf("simulated: received digits %q", d)}
		}
		if err := e.Next(ctx, x, cur.ID, vars); err != nil {
			return err
		}
	}
	return nil
}
