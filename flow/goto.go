package flow

import (
	"cmp"
	"fmt"
)

// TypeGoto jumps back (or on) to target_id, at most loop_count times; then it goes on.
const TypeGoto Type = "goto"

type gotoOptions struct {
	TargetID  string `json:"target_id"`
	LoopCount int    `json:"loop_count"`
}

var _ = register(actionType{
	Spec: Spec{Type: TypeGoto, Fields: []Field{
		{Name: "target_id", Kind: KindString, Required: true, Ref: RefAction},
		intField("loop_count", 0, 1000),
	}},
	rule: controlRule(gotoMoves, runGoto).warns(func(present map[string]bool) *warning {
		if present["target_id"] && !present["loop_count"] {
			return &warning{"loop_count", WarnGotoWithoutLoop, "goto without loop_count never jumps: loop_count defaults to 0"}
		}
		return nil
	}),
	label: func(o labelOptions) string { return "loop_count " + cmp.Or(o.str("loop_count"), "0") },
})

// gotoMoves: the jump, and the continuation once loop_count is reached.
func gotoMoves(o *gotoOptions) []move { return []move{{Kind: EdgeGoto, Ref: o.TargetID}, {}} }

// runGoto counts the jumps of each goto by flow and action, so that a goto in a fetched flow counts apart.
func runGoto(c *call, o *gotoOptions) error {
	key := c.f.FlowID.String() + "/" + c.a.ID.String()
	switch {
	case !c.resolves(0):
		c.take(1, "", "the target is not in this flow")
	case c.x.Loops[key] >= o.LoopCount:
		c.take(1, "", fmt.Sprintf("loop_count %d reached", o.LoopCount))
	default:
		c.x.Loops[key]++
		c.take(0, "", fmt.Sprintf("jump %d of %d", c.x.Loops[key], o.LoopCount))
	}
	return nil
}
