package flow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Execution end reasons: why an execution ended. Stable codes, listed in docs/execution.md.
const (
	EndFinished          = "finished"              // it ran past its last action
	EndStop              = "stop"                  // a stop action
	EndHangup            = "hangup"                // a hangup action completed
	EndStopped           = "stopped"               // stopped through the API
	EndExecutedLimit     = "executed_action_limit" // too many executed actions
	EndControlStepLimit  = "control_step_limit"    // too many control actions in a row
	EndFetchFlowNotFound = "fetch_flow_not_found"  // fetch_flow named a flow that does not exist
	EndFetchFlowDepth    = "fetch_flow_depth"      // fetch_flow nested too deep
	EndVariableLimit     = "variable_limit"        // variable_set would pass the variable limits
	EndOptionLimit       = "option_limit"          // an action's options grew too large by substitution
	EndStateLimit        = "state_limit"           // the execution's state would grow too large
)

// Variables every execution knows. Those of the voipbin.activeflow namespace are set when it starts, as VoIPbin
// sets them (a missing id is the nil UUID, as there); a client cannot set any voipbin. variable, and the runner
// only those of voipbin.call.
const (
	VarDigits                  = "voipbin.call.digits"
	VarCallStatus              = "voipbin.call.status"
	VarActiveflowID            = "voipbin.activeflow.id"
	VarActiveflowFlowID        = "voipbin.activeflow.flow_id"
	VarActiveflowReferenceType = "voipbin.activeflow.reference_type"
	VarActiveflowReferenceID   = "voipbin.activeflow.reference_id"
	VarActiveflowReferenceAFID = "voipbin.activeflow.reference_activeflow_id"
	VarActiveflowCompleteCount = "voipbin.activeflow.complete_count"
	VarFlowID                  = "voipbin.flow.id" // flowbin's older name of voipbin.activeflow.flow_id
	reservedPrefix             = "voipbin."
	runnerPrefix               = "voipbin.call."
	activeflowPrefix           = "voipbin.activeflow."
	defaultReferenceType       = "api"
)

// ErrFlowNotFound is what a FlowSource answers for a flow that does not exist (or was deleted).
var ErrFlowNotFound = errors.New("flow not found")

// FlowSource reads the current revision of a flow of the execution's customer, for fetch_flow.
type FlowSource func(ctx context.Context, id uuid.UUID) (actions []Action, revision int, err error)

// Engine runs executions. Control actions (rules with control set, control.go) run inside it; every other action
// is handed to the runner, the telephony side, which reports back when it is done. Given the same execution,
// inputs, clock and outbound answers, it always does the same.
//
// Like goflow's sessions, an advance hands back what it did (a Step: the actions it executed with their
// decisions, the webhooks it queued, its end) and its caller persists that and counts it; the engine itself
// reaches the world only through Outbound, for the requests whose answer decides where the execution goes.
type Engine struct {
	// Limits bounds what an execution may grow to.
	Limits Limits
	// Now is the clock: condition_datetime and tm_execute read it. Times are taken in UTC.
	Now func() time.Time
	// Flows reads flows for fetch_flow.
	Flows FlowSource
	// Outbound performs a sync webhook_send and a fetch's request. nil: a sync webhook_send is not sent, and
	// every fetch fails.
	Outbound Outbound
	// Simulated engines queue no webhook_send (their decisions say so): a simulation leaves nothing behind.
	Simulated bool
}

// Outbound performs the requests an execution waits for. A caller that must perform them at most once (a step
// reported by two runners at once) decides there who performs them, before the request leaves.
type Outbound interface {
	// Send sends a sync webhook_send and answers what its URI answered.
	Send(ctx context.Context, r WebhookRequest) (WebhookResponse, error)
	// Fetch requests what a fetch requests.
	Fetch(ctx context.Context, r FetchRequest) (FetchResult, error)
}

// Step is what one advance of an execution did (Start, Next, Stop): the caller writes it, sends the events it
// owes and counts it.
type Step struct {
	// Executed are the actions this advance moved to, in order: the control actions it ran, with their
	// decisions, and the runner action it handed over last (the execution's Current), if any.
	Executed []Executed
	// Queued are the webhook_sends to deliver in the background, once the step is written.
	Queued []WebhookRequest
	// Ended reports that the execution ended during this advance, for EndReason.
	Ended     bool
	EndReason string
}

// Frame is an action list being run: the flow's own, or one that fetch_flow or fetch started.
type Frame struct {
	FlowID   uuid.UUID `json:"flow_id"`
	Revision int       `json:"revision"`
	// Source is the URL a fetch took the actions from ("" for a flow's).
	Source  string   `json:"source"`
	Actions []Action `json:"actions"`
	// Next is the index of the action to run next.
	Next int `json:"next"`
	// Key names the frame's actions where they are stored once, beside the state (0: not stored yet, or a flow's).
	Key int `json:"-"`
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
	// Step numbers the actions of an execution: 1, 2, … in the order they ran.
	Step     int       `json:"step"`
	FlowID   uuid.UUID `json:"flow_id,omitzero"`
	Revision int       `json:"flow_revision,omitzero"`
	// Source is the URL a fetch took the action from.
	Source    string    `json:"source,omitempty"`
	TMExecute time.Time `json:"tm_execute"`
	Decision  *Decision `json:"decision,omitempty"`
}

// Origin is where an execution comes from: what VoIPbin's voipbin.activeflow variables say.
type Origin struct {
	// Runner are variables of voipbin.call known at the start (a call's source and destination): the runner's,
	// set before the first action so that its options may read them. Other names are ignored.
	Runner                map[string]string
	ActiveflowID          uuid.UUID
	FlowID                uuid.UUID // uuid.Nil: inline actions
	Revision              int
	ReferenceType         string // "" is "api"
	ReferenceID           uuid.UUID
	ReferenceActiveflowID uuid.UUID
	// CompleteCount is the execution's place in a chain of on_complete_flow_id: 0 for the first.
	CompleteCount int
	// Inherited are the variables of the execution whose end started this one (on_complete_flow_id): all of
	// them carry over, as in VoIPbin, but for the voipbin.activeflow ones, which are this execution's own.
	Inherited map[string]string
}

// reserved reports whether a variable name is of the voipbin. namespace, as VoIPbin decides it: trimmed and
// compared case-insensitively, so "VoIPbin.activeflow.id" and " voipbin.call.digits" are.
func reserved(name string) bool { return hasPrefixFold(strings.TrimSpace(name), reservedPrefix) }

// runnerName is a name of the voipbin.call namespace that a runner may set, written as the engine reads it
// (trimmed, lower case); ok is false for every other name of the voipbin. namespace.
func runnerName(name string) (string, bool) {
	n := strings.TrimSpace(name)
	if !hasPrefixFold(n, runnerPrefix) {
		return "", false
	}
	return strings.ToLower(n), true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

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

func (e *Engine) now() time.Time {
	if e.Now == nil {
		return time.Now().UTC()
	}
	return e.Now().UTC()
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

// ErrStaleAction is returned by Next when the runner reports an action or step that is not the current one.
var ErrStaleAction = errors.New("flow: not the current action")

// ErrEnded is returned by Next for an execution that has ended.
var ErrEnded = errors.New("flow: the execution has ended")

// RunnerReport is the runner's report that the current action finished.
type RunnerReport struct {
	ActionID uuid.UUID
	// Step, when not 0, must be the current action's step: a retried report of an earlier step, even of the
	// same action brought back by a loop, is then stale.
	Step      int
	Variables map[string]string
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

// RunnerVariables keeps the variables a runner may report: its own names, and those of voipbin.call under the
// name the engine reads ("VOIPBIN.call.digits" sets voipbin.call.digits). Other voipbin. names are dropped.
func RunnerVariables(vars map[string]string) map[string]string {
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		if name, ok := runnerName(k); ok {
			if _, exact := vars[name]; exact && name != k {
				continue // the name as written wins over its variants
			}
			out[name] = v
		} else if !reserved(k) {
			out[k] = v
		}
	}
	return out
}

// Stop ends a running execution (stopped). Stopping an ended one changes nothing (and the step says it did not
// end).
func (x *Execution) Stop() Step { return x.StopFor(EndStopped) }

// StopFor ends a running execution for reason (a call's runner ends it with hangup when the call ends first).
func (x *Execution) StopFor(reason string) Step {
	if x.Ended {
		return Step{}
	}
	x.end(reason)
	return Step{Ended: true, EndReason: reason}
}

func (x *Execution) end(reason string) {
	x.Ended, x.EndReason, x.Current = true, reason, nil
}

func (x *Execution) top() *Frame { return &x.Frames[len(x.Frames)-1] }

func (x *Execution) push(f Frame) {
	x.Frames = append(x.Frames, f)
	x.size = 0
}

// continueAfter moves the cursor to where an execution goes after a: its next_id, else the next action. A next_id
// that names no action of the list ends the list, as the graph draws it.
func (x *Execution) continueAfter(a *Action) {
	f := x.top()
	if a.NextID != uuid.Nil {
		f.Next = len(f.Actions)
		if i := indexOf(f.Actions, a.NextID); i >= 0 {
			f.Next = i
		}
		return
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
		c := &call{ctx: ctx, e: e, x: x, f: f, a: &run.Action, raw: a.Option, o: decodeOptions(option), step: st, stepNo: run.Step}
		c.moves = r.movesOf(c.o)
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

// Script is what a simulated runner reports. The i-th runner action reports Steps[i] (nothing when the script
// is shorter); a digits_receive whose report sets no voipbin.call.digits reports the next of Digits (nothing
// once they run out, so the variable keeps its value, as with a real runner that reports nothing).
type Script struct {
	Digits []string
	Steps  []map[string]string
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
