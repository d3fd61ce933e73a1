package flow

// EdgeKind says why an execution may move from one action to another.
type EdgeKind string

// The edge kinds.
const (
	EdgeNext    EdgeKind = "next"    // the next action in the list
	EdgeNextID  EdgeKind = "next_id" // the action's next_id
	EdgeGoto    EdgeKind = "goto"    // a goto's jump
	EdgeBranch  EdgeKind = "branch"  // a branch value (Label holds the value)
	EdgeDefault EdgeKind = "default" // a branch's default_target_id, or its fall-through when no value matches
	EdgeTrue    EdgeKind = "true"    // a condition that holds
	EdgeFalse   EdgeKind = "false"   // a condition that does not hold
)

// Edge is a possible move of an execution from action From to action To (indexes in the list).
type Edge struct {
	From, To int
	Kind     EdgeKind
	Label    string
}
