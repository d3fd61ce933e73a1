package flow

import (
	"cmp"
	"fmt"
	"sort"
)

// TypeBranch jumps to the target of the value of a variable (voipbin.call.digits unless it names another),
// else to default_target_id, else goes on.
const TypeBranch Type = "branch"

type branchOptions struct {
	Variable        string            `json:"variable"`
	TargetIDs       map[string]string `json:"target_ids"`
	DefaultTargetID string            `json:"default_target_id"`
}

var _ = register(actionType{
	Spec: Spec{Type: TypeBranch, Fields: []Field{
		{Name: "variable", Kind: KindString},
		{Name: "default_target_id", Kind: KindString, Ref: RefAction},
		{Name: "target_ids", Kind: KindTargetMap, Ref: RefAction},
	}},
	rule: controlRule(branchMoves, runBranch).warns(warnMissing("default_target_id", WarnBranchNoDefault,
		"branch without default_target_id continues with the next action when no value matches")),
	label: func(o labelOptions) string { return "on " + cmp.Or(o.str("variable"), VarDigits) },
})

// branchMoves: one move for each value, in value order, then the default.
func branchMoves(o *branchOptions) []move {
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

// runBranch jumps to the target of the variable's value, else to the default. It then clears the variable it
// read (sets it to ""), as VoIPbin does, so that a menu that loops back reads fresh digits.
func runBranch(c *call, o *branchOptions) error {
	name := branchVariable(c, o)
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

// branchVariable is the variable the option names: a name, or VoIPbin's "${name}" (read before substitution,
// which would have replaced it with the value). Anything else is what substitution made of it.
func branchVariable(c *call, o *branchOptions) string {
	if raw := decodeOptions[branchOptions](c.raw); raw.Variable != o.Variable {
		if name := variableName(raw.Variable); name != raw.Variable {
			return name
		}
	}
	return o.Variable
}
