package server

import (
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store"
)

// stepped is the activeflow as the answer of next shows it: with only the actions the report moved to in its
// history, so that the answer does not grow with the call (GET answers the whole history). a is not changed.
func stepped(a *store.Activeflow, r flow.RunnerReport) *store.Activeflow {
	out := *a
	out.State.Execution.Executed = movedTo(&a.State.Execution, r)
	return &out
}

// movedTo are the actions an execution moved to after the runner action a report finished. Executed holds what
// ran since the activeflow was read (stored format version 2: exactly those), or, for a version 1 state read
// before its first save, its whole history before them: then the actions moved to are those after the reported
// action's entry. The entry is the one of the report's step when the report names it; else the last runner
// action of the report's id before the new current action (a runner action is never followed by another runner
// action within one advance, so no later entry can be the reported one). Without such an entry, all of Executed
// ran since the read.
func movedTo(x *flow.Execution, r flow.RunnerReport) []flow.Executed {
	list := x.Executed
	if r.Step > 0 {
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].Step == r.Step {
				return list[i+1:]
			}
		}
		return list
	}
	end := len(list)
	if x.Current != nil && end > 0 {
		end-- // the new current action
	}
	for i := end - 1; i >= 0; i-- {
		if list[i].ID == r.ActionID && !flow.IsControl(list[i].Type) {
			return list[i+1:]
		}
	}
	return list
}
