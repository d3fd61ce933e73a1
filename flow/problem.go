package flow

import (
	"fmt"
	"sort"
	"strings"
)

// Problem reasons: stable UPPER_SNAKE codes that clients switch on.
const (
	ReasonInvalidJSON          = "INVALID_JSON_BODY"
	ReasonInvalidBody          = "INVALID_REQUEST_BODY"
	ReasonInvalidString        = "INVALID_STRING"
	ReasonInvalidNumber        = "INVALID_NUMBER"
	ReasonDuplicateKey         = "DUPLICATE_KEY"
	ReasonUnknownField         = "UNKNOWN_FIELD"
	ReasonInvalidField         = "INVALID_FIELD"
	ReasonInvalidAction        = "INVALID_ACTION"
	ReasonInvalidActionType    = "INVALID_ACTION_TYPE"
	ReasonInvalidActionOption  = "INVALID_ACTION_OPTION"
	ReasonDuplicateActionID    = "DUPLICATE_ACTION_ID"
	ReasonInvalidActionTarget  = "INVALID_ACTION_TARGET"
	ReasonInvalidFlowReference = "INVALID_FLOW_REFERENCE"
	ReasonTooManyActions       = "TOO_MANY_ACTIONS"
	ReasonVariableLimit        = "VARIABLE_LIMIT_EXCEEDED"

	WarnUnreachableAction = "UNREACHABLE_ACTION"
	WarnGotoWithoutLoop   = "GOTO_WITHOUT_LOOP_COUNT"
	WarnBranchNoDefault   = "BRANCH_WITHOUT_DEFAULT"
	WarnUnknownOptionKey  = "UNKNOWN_OPTION_KEY"
	// WarnConditionNoValueType: a condition_variable without value_type (see condition_variable.go).
	WarnConditionNoValueType = "CONDITION_WITHOUT_VALUE_TYPE"
)

// MaxProblems caps how many errors (and, separately, warnings) one report holds.
const MaxProblems = 100

// Problem is one thing wrong with a flow definition, at its place.
type Problem struct {
	// Pointer is an RFC 6901 JSON Pointer into the definition ("" is the whole document).
	Pointer string
	Reason  string
	Message string

	offset int // byte offset in the document, for document order
}

// Report is the outcome of validating a definition: errors block saving, warnings do not.
type Report struct {
	Errors   []Problem
	Warnings []Problem
	// ErrorsNotListed and WarningsNotListed count the problems found beyond the first MaxProblems of each.
	ErrorsNotListed, WarningsNotListed int
}

// Valid reports whether the definition has no errors.
func (r *Report) Valid() bool { return len(r.Errors) == 0 }

func (r *Report) addError(p Problem) {
	r.Errors = append(r.Errors, p)
}

func (r *Report) addWarning(p Problem) {
	r.Warnings = append(r.Warnings, p)
}

func (r *Report) errorf(offset int, pointer, reason, format string, args ...any) {
	r.addError(Problem{Pointer: pointer, Reason: reason, Message: fmt.Sprintf(format, args...), offset: offset})
}

func (r *Report) warnf(offset int, pointer, reason, format string, args ...any) {
	r.addWarning(Problem{Pointer: pointer, Reason: reason, Message: fmt.Sprintf(format, args...), offset: offset})
}

// finish puts errors and warnings in document order (problems at the same place keep the order they were found
// in) and keeps the first MaxProblems of each.
func (r *Report) finish() {
	inOrder := func(ps []Problem, notListed *int) []Problem {
		sort.SliceStable(ps, func(a, b int) bool { return ps[a].offset < ps[b].offset })
		*notListed += max(0, len(ps)-MaxProblems)
		return ps[:min(len(ps), MaxProblems)]
	}
	r.Errors = inOrder(r.Errors, &r.ErrorsNotListed)
	r.Warnings = inOrder(r.Warnings, &r.WarningsNotListed)
}

// InvalidError is returned when a definition has errors. It carries them all, in document order.
type InvalidError struct {
	Problems []Problem
}

func (e *InvalidError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid flow: " + e.Problems[0].Message
	}
	msgs := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		msgs = append(msgs, p.Message)
	}
	return fmt.Sprintf("invalid flow: %d problems: %s", len(e.Problems), strings.Join(msgs, "; "))
}

// Malformed reports whether the document is not a JSON object at all (broken JSON, or another kind of value), as
// opposed to an object with problems.
func (r *Report) Malformed() bool {
	for _, p := range r.Errors {
		if p.Reason == ReasonInvalidJSON || (p.Reason == ReasonInvalidBody && p.Pointer == "") {
			return true
		}
	}
	return false
}

// Err returns an *InvalidError holding the report's errors, or nil when the report is valid.
func (r *Report) Err() error {
	if r.Valid() {
		return nil
	}
	return &InvalidError{Problems: r.Errors}
}
