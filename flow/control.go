package flow

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
)

// A rule says how an action type moves an execution: whether the engine runs it or hands it to the runner, the
// moves it can make, and what it warns about. Every rule is defined once, with its type (goto.go, branch.go, …;
// catalog.go for the runner types): the engine runs actions by it, the graph draws its moves and the validator's
// reachability follows them, so the three cannot disagree.
type rule struct {
	// control actions run inside the engine; the others are handed to the runner (the telephony side), which
	// reports back when it is done.
	control bool
	// moves lists every move the action can make, given its options. nil means the continuation alone: its
	// next_id, else the next action in the list.
	moves func(option json.RawMessage) []move
	// terminal actions have no moves: the execution ends after them (endReason, for a runner action).
	terminal  bool
	endReason string
	// run executes a control action: it records its decision and moves only through c.take, c.end or c.x.push.
	run func(c *call) error
	// warn reports what is legal in a definition but surprising. present holds the option keys written.
	warn func(present map[string]bool) *warning
}

// A move is one way a control action may send the execution on.
type move struct {
	// Kind is the edge's kind; "" is the continuation's own (next or next_id).
	Kind  EdgeKind
	Label string
	// Ref is the option value naming the target; "" is the continuation.
	Ref string
	// Fallback moves go on to the continuation when Ref names no action of the list; other moves then cannot be
	// taken at all.
	Fallback bool
}

// warning is what a rule warns about: a missing or surprising option.
type warning struct {
	field, reason, message string
}

// continuation is the move to the next action (or next_id).
var continuation = []move{{}}

// controlRule is the rule of a control action whose options decode into O: moves (nil: the continuation alone)
// and run read the options decoded once, as the action runs them (with its variables substituted).
func controlRule[O any](moves func(o *O) []move, run func(c *call, o *O) error) rule {
	r := rule{control: true}
	if moves != nil {
		r.moves = func(option json.RawMessage) []move { return moves(decodeOptions[O](option)) }
	}
	r.run = func(c *call) error {
		o := decodeOptions[O](c.a.Option)
		c.moves = continuation
		if moves != nil {
			c.moves = moves(o)
		}
		return run(c, o)
	}
	return r
}

// warns is the rule, warning with w.
func (r rule) warns(w func(present map[string]bool) *warning) rule {
	r.warn = w
	return r
}

// warnMissing warns when the option field is not written: its default is legal but surprising.
func warnMissing(field, reason, message string) func(present map[string]bool) *warning {
	return func(present map[string]bool) *warning {
		if present[field] {
			return nil
		}
		return &warning{field, reason, message}
	}
}

// movesOf lists the moves of an action with the given options.
func (r rule) movesOf(option json.RawMessage) []move {
	switch {
	case r.terminal:
		return nil
	case r.moves == nil:
		return continuation
	}
	return r.moves(option)
}

// decodeOptions reads the options of an action into its type's options struct. Options of stored flows were
// validated; an option that does not decode acts as empty.
func decodeOptions[O any](option json.RawMessage) *O {
	var o O
	if len(option) > 0 {
		_ = json.Unmarshal(option, &o)
	}
	return &o
}

// call is one control action being run.
type call struct {
	ctx   context.Context
	e     *Engine
	x     *Execution
	f     *Frame
	a     *Action // the action as it runs: options with variables substituted
	raw   []byte  // the options as written, before substitution
	moves []move
	d     *Decision
	step  *Step // the advance this action runs in
	// stepNo is the action's step in the execution.
	stepNo int
}

// resolves reports whether move i can be taken to an action of the frame (or is the continuation).
func (c *call) resolves(i int) bool {
	m := c.moves[i]
	if m.Ref == "" || m.Fallback {
		return true
	}
	_, ok := c.target(m.Ref)
	return ok
}

func (c *call) target(ref string) (int, bool) {
	id, ok := ParseID(ref)
	if !ok || id == uuid.Nil {
		return 0, false
	}
	j := indexOf(c.f.Actions, id)
	return j, j >= 0
}

// take moves the execution along move i, and decides result with reason: "jump" when it lands on a named
// action, else result (or "continue").
func (c *call) take(i int, result, reason string) {
	m := c.moves[i]
	if m.Ref != "" {
		if j, ok := c.target(m.Ref); ok {
			c.f.Next = j
			c.d = &Decision{Result: "jump", TargetID: c.f.Actions[j].ID, Reason: reason}
			return
		}
	}
	c.x.continueAfter(c.a)
	if result == "" {
		result = "continue"
	}
	c.d = &Decision{Result: result, Reason: reason}
}

// end ends the execution.
func (c *call) end(reason, why string) {
	c.x.end(reason)
	c.d = &Decision{Result: "end", Reason: why}
}
