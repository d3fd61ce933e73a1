// Package flow is flowbin's domain: the catalog of action types, the decoding and validation of flow definitions
// (every problem, with its JSON Pointer, in document order), and the execution engine. It knows nothing of HTTP
// or SQL.
package flow

import (
	"encoding/json"
	"strings"

	"github.com/google/uuid"
)

// Action is one step of a flow.
type Action struct {
	ID uuid.UUID `json:"id"`
	// Name is a name a person gave the action (at most MaxActionNameLength characters, trimmed); flowbin only
	// stores and shows it. A label sent as the id becomes the name when no name is sent, so it survives the
	// label's rewrite to a UUID.
	Name string `json:"name,omitempty"`
	// NextID is the action to run after this one; uuid.Nil means the next action in the list.
	NextID uuid.UUID `json:"next_id,omitzero"`
	Type   Type      `json:"type"`
	// Option holds the options as the client sent them (compacted), with labels rewritten to UUIDs.
	Option json.RawMessage `json:"option,omitempty"`
}

// Definition is a validated flow definition: what a client may write.
type Definition struct {
	// ID is the flow's id when the writer chose it before parsing (the namespace of its labels, Limits.Namespace);
	// uuid.Nil when it did not.
	ID               uuid.UUID
	Name             string
	Detail           string
	Actions          []Action
	OnCompleteFlowID uuid.UUID // uuid.Nil: none

	flowRefs []flowRef
}

// flowRef is a reference from a definition to another flow, to be checked against the store.
type flowRef struct {
	id      uuid.UUID
	pointer string
	offset  int
}

// FlowIDs lists the distinct flows that the definition refers to.
func (d *Definition) FlowIDs() []uuid.UUID {
	seen := make(map[uuid.UUID]bool, len(d.flowRefs))
	ids := make([]uuid.UUID, 0, len(d.flowRefs))
	for _, r := range d.flowRefs {
		if !seen[r.id] {
			seen[r.id] = true
			ids = append(ids, r.id)
		}
	}
	return ids
}

// isUUID reports whether s is a UUID in its canonical 36-character form (any case). Other strings that
// uuid.Parse would accept, such as 32 bare hex digits, are labels: clients get back what they recognise.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// ParseID parses a UUID in its canonical 36-character form.
func ParseID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil
}

// hasVariable reports whether a string holds a ${name} reference, substituted when the action runs.
func hasVariable(s string) bool { return strings.Contains(s, "${") }
