// Package flow is flowbin's domain: the catalog of action types, the decoding and validation of flow definitions
// (every problem, with its JSON Pointer, in document order), and the execution engine. It knows nothing of HTTP
// or SQL.
//
// Its files are layered: a file uses the top-level names of files on its own floor and below, never above, so
// that each can be read knowing only what is beneath it. From the ground up:
//
//   - words: text.go (truncate), problem.go (problems and reports), fields.go (unknown-field modes), limits.go,
//     json.go (the JSON reader that keeps offsets), flow.go (Type, Action, Definition)
//   - vocabulary: spec.go (how options are described: Field, Spec), edge.go (the moves a graph draws),
//     outbound.go (what webhook_send and fetch send and get back), encode.go (an action list's JSON)
//   - execution state: engine.go (the Engine, a Step, Frame, Executed), execution.go (the Execution and its
//     stored format), cursor.go (where an execution goes next, and its end), variables.go (variables,
//     substitution and their limits)
//   - rules: control.go (a rule, and a control action being run), condition.go (what the conditions share),
//     catalog.go (the registry of action types, and the runner types as its rows)
//   - one file per control action type: goto.go, branch.go, condition_call_digits.go, condition_call_status.go,
//     condition_datetime.go, condition_variable.go, variable_set.go, stop.go, fetch_flow.go, webhook_send.go;
//     each holds the type's options struct, its spec, its rule and its label, and registers them with register
//   - graph.go (edges and reachability, from the rules), render.go (labels, Mermaid, DOT)
//   - documents: parser.go (the parser and the values every document holds), options.go (the option checks,
//     one table by field kind), parse.go (flow definitions and their action lists), start.go (start documents)
//   - fetch.go (a control type that validates what it fetches as a flow's actions, so above the parser)
//   - run.go (the engine at work: NewExecution, Start, Next, Simulate, Drive)
//
// Adding an action type means adding its file (and its cases in testdata/engine/<type>.json), or, for a runner
// type, its row in catalog.go; openapi.yaml describes its options (TestCatalogMatchesSpec checks the two agree).
package flow

import (
	"encoding/json"
	"strings"

	"github.com/google/uuid"
)

// Type is an action type, such as "talk" or "goto". Each is declared with its spec and rule: the control types in
// a file of their own (goto.go, …), the runner types in the catalog (catalog.go).
type Type string

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
