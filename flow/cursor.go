package flow

import "github.com/google/uuid"

// Where an execution stands and goes: its current frame, the move to an action's continuation, a frame pushed
// by fetch_flow or fetch, and its end.

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
