package flow

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ExecutionVersion is the version of the stored execution format that Encode writes (docs/execution.md).
// DecodeExecution reads it and every earlier version: executions in progress outlive the release that started
// them.
//
//	0: flowbin before the format had a version: no version, no steps, loops may be absent.
//	1: version, steps, and every map and list always present.
const ExecutionVersion = 1

// Execution is the whole state of one execution. It is plain data, stored between advances with Encode and read
// back with DecodeExecution.
type Execution struct {
	Version   int               `json:"version"`
	Frames    []Frame           `json:"frames"`
	Variables map[string]string `json:"variables"`
	// Loops counts the jumps of each goto action, by flow and action id.
	Loops map[string]int `json:"loops"`
	// Current is the action handed to the runner, awaiting its report; nil when ended.
	Current   *Executed  `json:"current"`
	Executed  []Executed `json:"executed"`
	Ended     bool       `json:"ended"`
	EndReason string     `json:"end_reason"`

	// size is what the state takes, roughly, in bytes; 0 until measured.
	size int
}

// Encode writes the execution in the stored format. Options are kept byte for byte as the client wrote them
// (no HTML escaping, which would turn ">=" into "\u003e=").
func (x *Execution) Encode() ([]byte, error) {
	x.Version = ExecutionVersion
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return nil, fmt.Errorf("flow: encode execution: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// DecodeExecution reads an execution in the stored format, of this version or an earlier one, and fills every
// map and list that the engine writes to, so that a decoded execution runs exactly as the one encoded.
func DecodeExecution(b []byte) (*Execution, error) {
	var x Execution
	if err := json.Unmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("flow: decode execution: %w", err)
	}
	if x.Version < 0 || x.Version > ExecutionVersion {
		return nil, fmt.Errorf("flow: decode execution: unknown version %d", x.Version)
	}
	if x.Variables == nil {
		x.Variables = map[string]string{}
	}
	if x.Loops == nil {
		x.Loops = map[string]int{}
	}
	if x.Executed == nil {
		x.Executed = []Executed{}
	}
	if len(x.Frames) == 0 {
		return nil, fmt.Errorf("flow: decode execution: no action list")
	}
	for i := range x.Frames {
		if x.Frames[i].Actions == nil {
			x.Frames[i].Actions = []Action{}
		}
	}
	if x.Version == 0 {
		for i := range x.Executed {
			x.Executed[i].Step = i + 1
		}
		if x.Current != nil {
			x.Current.Step = len(x.Executed)
		}
	}
	x.Version = ExecutionVersion
	return &x, nil
}

// Size is what the execution's state takes, roughly, in bytes: the measure that Limits.MaxStateBytes bounds.
func (x *Execution) Size() int {
	if x.size == 0 {
		x.size = 1
		for i := range x.Frames {
			x.size += frameSize(&x.Frames[i])
		}
		for i := range x.Executed {
			x.size += executedSize(&x.Executed[i])
		}
		if x.Current != nil {
			x.size += executedSize(x.Current)
		}
		x.size += variablesSize(x.Variables)
	}
	return x.size
}

// grow notes that the state grew by n bytes.
func (x *Execution) grow(n int) {
	if x.size != 0 {
		x.size += n
	}
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
