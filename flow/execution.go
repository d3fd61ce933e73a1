package flow

// ExecutionVersion is the version of the stored execution format that Encode writes (docs/execution.md).
// DecodeExecution reads it and every earlier version: executions in progress outlive the release that started
// them.
//
//	0: flowbin before the format had a version: no version, no steps, loops may be absent.
//	1: version, steps, and every map and list always present; one document holds everything, the actions of
//	   every frame and every action executed.
//	2: the document is the hot state alone (state.go): the cursor, with each frame a reference to its actions
//	   (a flow's revision, or a list stored once beside the state), the step count, variables, loop counts, the
//	   current action and the end. The actions executed are rows of their own, appended step by step.
const ExecutionVersion = 2

// Execution is the whole state of one execution. It is plain data, stored between advances with Encode (the hot
// state), NewFrames and Unsaved (what is stored beside it), and read back with DecodeExecution and Resolve.
type Execution struct {
	Version   int               `json:"version"`
	Frames    []Frame           `json:"frames"`
	Variables map[string]string `json:"variables"`
	// Loops counts the jumps of each goto action, by flow and action id.
	Loops map[string]int `json:"loops"`
	// Current is the action handed to the runner, awaiting its report; nil when ended.
	Current *Executed `json:"current"`
	// Executed are actions run, in the order of their steps: every one for an execution that was never stored
	// (or was stored in version 1); for one read back from version 2, only those run since it was read (the
	// earlier ones are rows of the store's, which it reads when it must answer the whole history).
	Executed  []Executed `json:"executed"`
	Ended     bool       `json:"ended"`
	EndReason string     `json:"end_reason"`
	// Steps counts the actions run so far, stored or not: the last one's step.
	Steps int `json:"-"`

	// saved is how many of Executed are stored already (Saved).
	saved int
	// size is what the state takes, roughly, in bytes; 0 until measured.
	size int
}

// Size is what the execution holds to run a step, roughly, in bytes: the measure that Limits.MaxStateBytes
// bounds. It is the hot state and the actions of its frames; the actions executed are not part of it (they are
// rows, appended, bounded by Limits.MaxExecuted).
func (x *Execution) Size() int {
	if x.size == 0 {
		x.size = 1
		for i := range x.Frames {
			x.size += frameSize(&x.Frames[i])
		}
		if x.Current != nil {
			x.size += executedSize(x.Current)
		}
		x.size += variablesSize(x.Variables)
	}
	return x.size
}

// record notes an action run: its step is the next.
func (x *Execution) record(run Executed) {
	x.Executed = append(x.Executed, run)
	x.Steps = run.Step
}

// fits reports whether the state can grow by extra bytes within the limits.
func (x *Execution) fits(lim Limits, extra int) bool { return x.Size()+extra <= lim.maxState() }

func frameSize(f *Frame) int {
	n := actionOverhead
	for i := range f.Actions {
		n += actionOverhead + len(f.Actions[i].Type) + len(f.Actions[i].Option)
	}
	return n
}

func executedSize(r *Executed) int {
	n := executedOverhead + len(r.Type) + len(r.Option)
	if r.Decision != nil {
		n += len(r.Decision.Reason)
	}
	return n
}

func variablesSize(vars map[string]string) int {
	n := 0
	for k, v := range vars {
		n += len(k) + len(v) + variableOverhead
	}
	return n
}
