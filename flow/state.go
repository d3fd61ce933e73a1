package flow

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// The stored format, version 2 (docs/execution.md): a small hot state, the same size at step 100 as at step 1,
// and beside it what is written once: the actions of frames that no flow revision holds (inline actions, those
// a fetch returned), keyed, and every action executed, appended as it runs (EncodeExecuted). A step reads and
// writes the hot state and appends; nothing it wrote before is rewritten.

// hotState is the version 2 document.
type hotState struct {
	Version   int               `json:"version"`
	Steps     int               `json:"steps"`
	Frames    []frameRef        `json:"frames"`
	Variables map[string]string `json:"variables"`
	Loops     map[string]int    `json:"loops"`
	Current   *Executed         `json:"current"`
	Ended     bool              `json:"ended"`
	EndReason string            `json:"end_reason"`
}

// frameRef is a frame in the hot state: where its actions are, and the cursor in them. A flow's frame is found
// by the flow's revision (immutable, so its actions may be cached by flow and revision anywhere); any other by
// its key among the lists stored with the execution (a fetch_flow frame of a version 1 state has both: its
// actions are the copy that state held).
type frameRef struct {
	FlowID   uuid.UUID `json:"flow_id,omitzero"`
	Revision int       `json:"revision,omitzero"`
	Key      int       `json:"key,omitzero"`
	Source   string    `json:"source,omitempty"`
	Next     int       `json:"next"`
}

// StoredFrame is a frame's action list stored once, beside the hot state that names it by Key.
type StoredFrame struct {
	Key     int
	Source  string // the URL a fetch took the actions from; "" for inline actions
	Actions []Action
}

// OfFlow reports whether the frame's actions are found as a flow's revision's (by FlowID and Revision), rather
// than as a list stored with the execution (Key). The frames of a version 1 state are lists: their actions
// were copied into it, and are stored as they were copied.
func (f *Frame) OfFlow() bool {
	return f.Key == 0 && f.FlowID != uuid.Nil && f.Revision > 0 && f.Source == ""
}

// frameCopied marks a frame whose actions a version 1 state held: stored as a list, under a key not yet given.
const frameCopied = -1

// frameKey is the key of the i-th frame: its own once stored; else one no earlier frame of the execution can
// have had, since a frame is pushed by a step and a stack holds fewer than maxFrames.
func (x *Execution) frameKey(i int) int {
	if k := x.Frames[i].Key; k > 0 {
		return k
	}
	return x.Steps*maxFrames + i + 1
}

// Encode writes the execution's hot state in the stored format (version 2). It changes nothing: frames not yet
// stored are named by the keys NewFrames answers for them, and Saved records, once written, that they are.
// Options are kept byte for byte as the client wrote them (no HTML escaping, which would turn ">=" into
// "\u003e=").
func (x *Execution) Encode() ([]byte, error) {
	h := hotState{Version: ExecutionVersion, Steps: x.Steps, Frames: make([]frameRef, len(x.Frames)),
		Variables: x.Variables, Loops: x.Loops, Current: x.Current, Ended: x.Ended, EndReason: x.EndReason}
	for i := range x.Frames {
		f := &x.Frames[i]
		h.Frames[i] = frameRef{FlowID: f.FlowID, Revision: f.Revision, Source: f.Source, Next: f.Next}
		if !f.OfFlow() {
			h.Frames[i].Key = x.frameKey(i)
		}
	}
	return encodeJSON(h, "execution")
}

// NewFrames are the action lists to store with the hot state Encode writes: those of frames that are not a flow
// revision's and were not stored yet, with the key the state names them by.
func (x *Execution) NewFrames() []StoredFrame {
	var out []StoredFrame
	for i := range x.Frames {
		if f := &x.Frames[i]; !f.OfFlow() && f.Key <= 0 {
			out = append(out, StoredFrame{Key: x.frameKey(i), Source: f.Source, Actions: f.Actions})
		}
	}
	return out
}

// Unsaved are the actions executed that are not stored yet: to append, with the hot state, as rows.
func (x *Execution) Unsaved() []Executed { return x.Executed[x.saved:] }

// Saved records that the hot state Encode wrote, NewFrames and Unsaved are stored.
func (x *Execution) Saved() {
	for i := range x.Frames {
		if !x.Frames[i].OfFlow() && x.Frames[i].Key <= 0 {
			x.Frames[i].Key = x.frameKey(i)
		}
	}
	x.saved = len(x.Executed)
}

// WithHistory sets the actions executed before the execution was read (stored as rows) ahead of those run since,
// so that Executed is the whole history, as an answer shows it. They count as stored.
func (x *Execution) WithHistory(stored []Executed) {
	all := make([]Executed, 0, len(stored)+len(x.Executed)-x.saved)
	all = append(append(all, stored...), x.Executed[x.saved:]...)
	x.Executed, x.saved = all, len(stored)
}

// DecodeExecution reads an execution in the stored format, of this version or an earlier one, and fills every
// map and list that the engine writes to, so that a decoded execution runs exactly as the one encoded.
//
// A version 2 state names its frames' actions instead of holding them: Resolve must fill them before the
// execution runs. Its Executed is empty (the actions run are rows, stored); a version 0 or 1 state holds every
// action it ran, none of them stored as rows yet.
func DecodeExecution(b []byte) (*Execution, error) {
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("flow: decode execution: %w", err)
	}
	var x Execution
	switch {
	case v.Version < 0 || v.Version > ExecutionVersion:
		return nil, fmt.Errorf("flow: decode execution: unknown version %d", v.Version)
	case v.Version == 2:
		var h hotState
		if err := json.Unmarshal(b, &h); err != nil {
			return nil, fmt.Errorf("flow: decode execution: %w", err)
		}
		x = Execution{Steps: h.Steps, Variables: h.Variables, Loops: h.Loops, Current: h.Current, Ended: h.Ended,
			EndReason: h.EndReason, Executed: []Executed{}, Frames: make([]Frame, len(h.Frames))}
		for i, f := range h.Frames {
			x.Frames[i] = Frame{FlowID: f.FlowID, Revision: f.Revision, Source: f.Source, Next: f.Next, Key: f.Key}
		}
	default:
		if err := json.Unmarshal(b, &x); err != nil {
			return nil, fmt.Errorf("flow: decode execution: %w", err)
		}
		if x.Executed == nil {
			x.Executed = []Executed{}
		}
		for i := range x.Frames {
			if x.Frames[i].Actions == nil {
				x.Frames[i].Actions = []Action{}
			}
			x.Frames[i].Key = frameCopied
		}
		if x.Version == 0 {
			for i := range x.Executed {
				x.Executed[i].Step = i + 1
			}
			if x.Current != nil {
				x.Current.Step = len(x.Executed)
			}
		}
		if n := len(x.Executed); n > 0 {
			x.Steps = x.Executed[n-1].Step
		}
	}
	if x.Variables == nil {
		x.Variables = map[string]string{}
	}
	if x.Loops == nil {
		x.Loops = map[string]int{}
	}
	if len(x.Frames) == 0 {
		return nil, fmt.Errorf("flow: decode execution: no action list")
	}
	x.Version = ExecutionVersion
	return &x, nil
}

// Resolve fills the actions of the frames a version 2 state names (DecodeExecution), with actions answering a
// flow's revision's (f.OfFlow) or the list stored under f.Key. A list that cannot be found is an error: an
// execution never runs on without its actions.
func (x *Execution) Resolve(actions func(f *Frame) ([]Action, error)) error {
	for i := range x.Frames {
		f := &x.Frames[i]
		if f.Actions != nil {
			continue
		}
		list, err := actions(f)
		if err != nil {
			return fmt.Errorf("flow: resolve frame %d: %w", i, err)
		}
		if list == nil {
			list = []Action{}
		}
		f.Actions = list
	}
	x.size = 0
	return nil
}

// EncodeExecuted writes one executed action as the stored format keeps it: in version 1 an element of the
// document's "executed", in version 2 a row of its own (the store's activeflow_actions). Options are kept byte
// for byte, as Encode keeps them.
func EncodeExecuted(r *Executed) ([]byte, error) { return encodeJSON(r, "executed action") }

// DecodeExecuted reads what EncodeExecuted wrote.
func DecodeExecuted(b []byte) (Executed, error) {
	var r Executed
	if err := json.Unmarshal(b, &r); err != nil {
		return Executed{}, fmt.Errorf("flow: decode executed action: %w", err)
	}
	return r, nil
}

// EncodeActions writes a stored frame's actions, as a flow's are stored.
func EncodeActions(actions []Action) ([]byte, error) { return encodeJSON(actions, "actions") }

// DecodeActions reads what EncodeActions (or a flow's store) wrote.
func DecodeActions(b []byte) ([]Action, error) {
	var out []Action
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("flow: decode actions: %w", err)
	}
	return out, nil
}

func encodeJSON(v any, what string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("flow: encode %s: %w", what, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
