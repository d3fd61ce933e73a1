package flow

import (
	"fmt"
	"strings"
)

// FieldValidation says what a document's unknown fields do, as Kubernetes' fieldValidation: a field that the
// document's kind does not have is an error (Strict), or is dropped with a warning (Warn), or is dropped silently
// (Ignore). Fields that VoIPbin sends and flowbin does not use are never unknown: they are dropped quietly in
// every mode.
type FieldValidation int

// The field validation modes. The zero value is Strict, so that a caller that says nothing is told everything.
const (
	FieldsStrict FieldValidation = iota
	FieldsWarn
	FieldsIgnore
)

// FieldValidationNames are the modes' wire names, in the order of their values.
var FieldValidationNames = []string{"Strict", "Warn", "Ignore"}

func (v FieldValidation) String() string {
	if int(v) >= 0 && int(v) < len(FieldValidationNames) {
		return FieldValidationNames[v]
	}
	return fmt.Sprintf("FieldValidation(%d)", int(v))
}

// ParseFieldValidation reads a mode by its wire name, in any case.
func ParseFieldValidation(s string) (FieldValidation, error) {
	for i, name := range FieldValidationNames {
		if strings.EqualFold(s, name) {
			return FieldValidation(i), nil
		}
	}
	return FieldsStrict, fmt.Errorf("field validation %q is none of Strict, Warn and Ignore", s)
}

// voipbinFlowFields are fields of VoIPbin's flows that a definition may carry and that are dropped quietly: the
// read-only fields of a stored flow (so that a flow read with GET can be sent back with PUT, from flowbin or from
// VoIPbin) and VoIPbin's fields that flowbin has no use for.
var voipbinFlowFields = map[string]bool{
	"id": true, "customer_id": true, "type": true, "revision": true,
	"tm_create": true, "tm_update": true, "tm_delete": true,
	// VoIPbin's: the hash of direct (anonymous) access, and whether a flow outlives the call that made it.
	"direct_hash": true, "direct_id": true, "persist": true,
	// flowbin's own answers to writes carry their warnings.
	"warnings": true,
}

// voipbinActionFields are fields of VoIPbin's actions that are dropped quietly: tm_execute describes one
// execution, not the flow.
var voipbinActionFields = map[string]bool{"tm_execute": true}
