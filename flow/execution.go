package flow

import (
	"fmt"
	"sort"
)

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

// variableBytes is what the variables' names and values take together, the measure of MaxVariablesBytes.
func variableBytes(vars map[string]string) int {
	n := 0
	for k, v := range vars {
		n += len(k) + len(v)
	}
	return n
}

// LimitError is input that would pass an execution's limits. Pointer locates it in the request's variables.
type LimitError struct {
	Pointer string
	Message string
}

func (e *LimitError) Error() string { return "flow: " + e.Message }

// CheckVariables checks variables given as input (at start, in a report, in a simulation's script) against the
// limits, reporting each problem with its pointer below ptr.
func CheckVariables(vars map[string]string, lim Limits, ptr string) []*LimitError {
	var out []*LimitError
	if len(vars) > lim.maxVariables() {
		out = append(out, &LimitError{ptr, fmt.Sprintf("at most %d variables, not %d", lim.maxVariables(), len(vars))})
	}
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case k == "":
			out = append(out, &LimitError{joinPointer(ptr, k), "a variable needs a name"})
		case len(k) > DefaultMaxVariableNameLen:
			out = append(out, &LimitError{joinPointer(ptr, k), fmt.Sprintf("a variable name has at most %d bytes", DefaultMaxVariableNameLen)})
		case len(vars[k]) > lim.maxValue():
			out = append(out, &LimitError{joinPointer(ptr, k), fmt.Sprintf("variable %s has %d bytes; at most %d", truncate(k, 64), len(vars[k]), lim.maxValue())})
		}
		if len(out) >= 20 {
			break
		}
	}
	if n := variableBytes(vars); n > lim.maxVariablesAll() {
		out = append(out, &LimitError{ptr, fmt.Sprintf("variables take %d bytes; at most %d in all", n, lim.maxVariablesAll())})
	}
	return out
}

// checkMerge refuses a runner's variables that would take the execution past its variable limits.
func (x *Execution) checkMerge(vars map[string]string, lim Limits) error {
	if errs := CheckVariables(vars, lim, "/variables"); len(errs) > 0 {
		return errs[0]
	}
	count, bytes := len(x.Variables), variableBytes(x.Variables)
	for k, v := range vars {
		old, had := x.Variables[k]
		if had {
			bytes -= len(k) + len(old)
		} else {
			count++
		}
		bytes += len(k) + len(v)
	}
	switch {
	case count > lim.maxVariables():
		return &LimitError{"/variables", fmt.Sprintf("the execution would hold %d variables; at most %d", count, lim.maxVariables())}
	case bytes > lim.maxVariablesAll():
		return &LimitError{"/variables", fmt.Sprintf("the execution's variables would take %d bytes; at most %d in all", bytes, lim.maxVariablesAll())}
	}
	return nil
}

// set sets a variable, unless that would pass the limits.
func (x *Execution) set(name, value string, lim Limits) bool {
	if name == "" || len(name) > DefaultMaxVariableNameLen || len(value) > lim.maxValue() {
		return false
	}
	if x.checkMerge(map[string]string{name: value}, lim) != nil {
		return false
	}
	x.Variables[name] = value
	x.size = 0
	return true
}
