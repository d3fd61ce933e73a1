package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/google/uuid"
)

// A rule says how an action type moves an execution: whether the engine runs it or hands it to the runner, the
// moves it can make, and what it warns about. Every rule is defined once, here; the engine runs actions by it,
// the graph draws its moves and the validator's reachability follows them, so the three cannot disagree.
type rule struct {
	// control actions run inside the engine; the others are handed to the runner (the telephony side), which
	// reports back when it is done.
	control bool
	// moves lists every move the action can make, given its options. nil means the continuation alone: its
	// next_id, else the next action in the list.
	moves func(o *controlOptions) []move
	// terminal actions have no moves: the execution ends after them (endReason, for a runner action).
	terminal  bool
	endReason string
	// run executes a control action: it records its decision and moves only through c.take, c.end or c.fetch.
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

var rules = map[Type]rule{
	TypeGoto: {
		control: true,
		moves: func(o *controlOptions) []move {
			return []move{{Kind: EdgeGoto, Ref: o.TargetID}, {}}
		},
		run: runGoto,
		warn: func(present map[string]bool) *warning {
			if present["target_id"] && !present["loop_count"] {
				return &warning{"loop_count", WarnGotoWithoutLoop, "goto without loop_count never jumps: loop_count defaults to 0"}
			}
			return nil
		},
	},
	TypeBranch: {
		control: true,
		moves:   branchMoves,
		run:     runBranch,
		warn: func(present map[string]bool) *warning {
			if !present["default_target_id"] {
				return &warning{"default_target_id", WarnBranchNoDefault,
					"branch without default_target_id continues with the next action when no value matches"}
			}
			return nil
		},
	},
	TypeConditionVariable:   conditionVariableRule,
	TypeConditionCallDigits: conditionRule,
	TypeConditionCallStatus: conditionRule,
	TypeConditionDatetime:   conditionRule,
	TypeVariableSet:         {control: true, run: runVariableSet},
	TypeStop: {control: true, terminal: true, run: func(c *call) error {
		c.end(EndStop, "stop")
		return nil
	}},
	TypeFetchFlow: {control: true, run: runFetchFlow},
	TypeHangup:    {terminal: true, endReason: EndHangup},
	// webhook_send and fetch are control actions too: flowbin sends them itself (outbound.go). Their rules join the
	// table in outbound.go's init, because fetch validates what it fetches with Parse, whose reachability reads
	// this table: a cycle Go's initialization refuses in one literal.
}

var conditionRule = rule{
	control: true,
	moves: func(o *controlOptions) []move {
		return []move{{Kind: EdgeTrue}, {Kind: EdgeFalse, Ref: o.FalseTargetID, Fallback: true}}
	},
	run: runCondition,
}

// conditionVariableRule is a condition that warns without value_type: VoIPbin's condition_variable then never
// holds (it matches no type); flowbin's compares as a string, which is what such a flow means. The warning says
// so, so that a flow written for flowbin does not surprise on VoIPbin, and the other way round.
var conditionVariableRule = func() rule {
	r := conditionRule
	r.warn = func(present map[string]bool) *warning {
		if !present["value_type"] {
			return &warning{"value_type", WarnConditionNoValueType,
				"condition_variable without value_type compares as a string (value_string); VoIPbin's never holds"}
		}
		return nil
	}
	return r
}()

// IsControl reports whether the engine runs actions of type t itself (the others go to the runner).
func IsControl(t Type) bool { return ruleOf(t).control }

// ruleOf answers the rule of an action type: a runner action that moves on to its continuation, unless the table
// says otherwise.
func ruleOf(t Type) rule {
	if r, ok := rules[t]; ok {
		return r
	}
	return rule{}
}

// movesOf lists the moves of an action with its options decoded.
func (r rule) movesOf(o *controlOptions) []move {
	switch {
	case r.terminal:
		return nil
	case r.moves == nil:
		return continuation
	}
	return r.moves(o)
}

func branchMoves(o *controlOptions) []move {
	values := make([]string, 0, len(o.TargetIDs))
	for v := range o.TargetIDs {
		values = append(values, v)
	}
	sort.Strings(values)
	ms := make([]move, 0, len(values)+1)
	for _, v := range values {
		ms = append(ms, move{Kind: EdgeBranch, Label: v, Ref: o.TargetIDs[v]})
	}
	return append(ms, move{Kind: EdgeDefault, Ref: o.DefaultTargetID, Fallback: true})
}

// decodeOptions reads the options the rules use. Options of stored flows were validated; an option that does
// not decode acts as empty.
func decodeOptions(option json.RawMessage) *controlOptions {
	var o controlOptions
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
	a     *Action
	raw   []byte // the options as written, before substitution
	o     *controlOptions
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

func runGoto(c *call) error {
	key := c.f.FlowID.String() + "/" + c.a.ID.String()
	switch {
	case !c.resolves(0):
		c.take(1, "", "the target is not in this flow")
	case c.x.Loops[key] >= c.o.LoopCount:
		c.take(1, "", fmt.Sprintf("loop_count %d reached", c.o.LoopCount))
	default:
		c.x.Loops[key]++
		c.take(0, "", fmt.Sprintf("jump %d of %d", c.x.Loops[key], c.o.LoopCount))
	}
	return nil
}

// runBranch jumps to the target of the variable's value, else to the default. It then clears the variable it
// read (sets it to ""), as VoIPbin does, so that a menu that loops back reads fresh digits.
func runBranch(c *call) error {
	name := c.variable()
	if name == "" {
		name = VarDigits
	}
	value := c.x.Variables[name]
	def := len(c.moves) - 1
	taken, why := def, ""
	for i, m := range c.moves[:def] {
		if m.Label == value && c.resolves(i) {
			taken, why = i, fmt.Sprintf("%s is %q: target_ids[%q]", name, truncate(value, maxReasonValue), truncate(value, maxReasonValue))
			break
		}
	}
	if taken == def {
		if _, ok := c.target(c.moves[def].Ref); ok {
			why = fmt.Sprintf("%s is %q, which no target matches: default_target_id", name, truncate(value, maxReasonValue))
		} else {
			why = fmt.Sprintf("%s is %q, which no target matches, and there is no default", name, truncate(value, maxReasonValue))
		}
	}
	c.take(taken, "", why)
	if _, set := c.x.Variables[name]; set {
		c.x.Variables[name] = ""
		c.x.size = 0
	}
	return nil
}

// subject is what a condition_variable compares: the variable its option names (a name, or VoIPbin's
// "${name}"), or, for any other text with ${variables} in it, that text substituted, as VoIPbin compares it.
func (c *call) subject() (label, value string) {
	raw := decodeOptions(c.raw).Variable
	name := variableName(raw)
	if name == raw && hasVariable(raw) {
		return strconv.Quote(truncate(raw, maxReasonValue)), c.o.Variable
	}
	return name, c.x.Variables[name]
}

// variable is the variable an option names: a name, or VoIPbin's "${name}" (read before substitution, which
// would have replaced it with the value). Anything else is what substitution made of it.
func (c *call) variable() string {
	if raw := decodeOptions(c.raw); raw.Variable != c.o.Variable {
		if name := variableName(raw.Variable); name != raw.Variable {
			return name
		}
	}
	return c.o.Variable
}

func runCondition(c *call) error {
	var holds bool
	var why string
	if c.a.Type == TypeConditionVariable {
		label, value := c.subject()
		holds, why = evaluateVariable(c.o, label, value)
	} else {
		holds, why = c.e.evaluate(c.a.Type, c.o, c.x.Variables)
	}
	if holds {
		c.take(0, "", "holds: "+why)
		return nil
	}
	if _, ok := c.target(c.o.FalseTargetID); !ok {
		why += "; no false_target_id"
	}
	c.take(1, "", "does not hold: "+why)
	return nil
}

func runVariableSet(c *call) error {
	// The value was substituted with the rest of the options.
	if !c.x.set(c.o.Key, c.o.Value, c.e.Limits) {
		c.end(EndVariableLimit, fmt.Sprintf("setting %s would pass the variable limits", c.o.Key))
		return nil
	}
	c.take(0, "set", fmt.Sprintf("%s = %q", c.o.Key, truncate(c.o.Value, 200)))
	return nil
}

func runFetchFlow(c *call) error {
	id, ok := ParseID(c.o.FlowID)
	var actions []Action
	var revision int
	err := ErrFlowNotFound
	if len(c.x.Frames) >= maxFrames {
		c.end(EndFetchFlowDepth, fmt.Sprintf("fetch_flow nested more than %d deep", maxFrames-1))
		return nil
	}
	if ok && c.e.Flows != nil {
		actions, revision, err = c.e.Flows(c.ctx, id)
	}
	if errors.Is(err, ErrFlowNotFound) {
		c.end(EndFetchFlowNotFound, fmt.Sprintf("flow %s not found", c.o.FlowID))
		return nil
	}
	if err != nil {
		return fmt.Errorf("flow: fetch_flow %s: %w", id, err)
	}
	frame := Frame{FlowID: id, Revision: revision, Actions: actions}
	if !c.x.fits(c.e.Limits, frameSize(&frame)) {
		c.end(EndStateLimit, fmt.Sprintf("flow %s would make the execution's state larger than %d bytes", id, c.e.Limits.maxState()))
		return nil
	}
	c.take(0, "fetch", fmt.Sprintf("flow %s at revision %d", id, revision)) // where to come back to
	c.x.push(frame)
	return nil
}

// truncate shortens s to at most n bytes for a reason text.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
