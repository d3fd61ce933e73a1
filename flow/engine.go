package flow

import (
	"context"
	"errors"
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

// ErrFlowNotFound is what a FlowSource answers for a flow that does not exist (or was deleted).
var ErrFlowNotFound = errors.New("flow not found")

// FlowSource reads the current revision of a flow of the execution's customer, for fetch_flow.
type FlowSource func(ctx context.Context, id uuid.UUID) (actions []Action, revision int, err error)

// Engine runs executions (run.go). Control actions (rules with control set, control.go) run inside it; every other
// action is handed to the runner, the telephony side, which reports back when it is done. Given the same
// execution, inputs, clock and outbound answers, it always does the same.
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

func (e *Engine) now() time.Time {
	if e.Now == nil {
		return time.Now().UTC()
	}
	return e.Now().UTC()
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

// Script is what a simulated runner reports. The i-th runner action reports Steps[i] (nothing when the script
// is shorter); a digits_receive whose report sets no voipbin.call.digits reports the next of Digits (nothing
// once they run out, so the variable keeps its value, as with a real runner that reports nothing).
type Script struct {
	Digits []string
	Steps  []map[string]string
}
