package flow

import "github.com/google/uuid"

// Definition limits.
const (
	DefaultMaxActions = 1000
	MaxNameLength     = 255
	// MaxActionNameLength bounds an action's name.
	MaxActionNameLength = 100
	MaxDetailLength     = 4096
)

// Execution limits: the defaults of Limits. The variable limits are VoIPbin's.
const (
	DefaultMaxVariables       = 100
	DefaultMaxVariableBytes   = 32 << 10 // one value
	DefaultMaxVariablesBytes  = 64 << 10 // every name and value together
	DefaultMaxOptionBytes     = 64 << 10 // an action's options after substitution
	DefaultMaxStateBytes      = 2 << 20  // an execution's stored state
	DefaultMaxExecuted        = 100      // actions one execution runs (VoIPbin's number)
	DefaultMaxControlSteps    = 50       // control actions run in a row, with no runner action between
	maxFrames                 = 32       // action lists on the stack: the flow and nested fetch_flow
	maxReasonValue            = 200      // bytes of a value quoted in a decision's reason
	executedOverhead          = 256      // bytes an executed action takes besides its options, roughly
	actionOverhead            = 128      // bytes an action takes besides its options, roughly
	variableOverhead          = 8        // bytes a variable takes besides its name and value, roughly
	DefaultMaxVariableNameLen = 256
)

// Limits bounds what a definition may hold and what an execution may grow to. Zero fields take the defaults.
// Input over a limit is refused (400, with a pointer); an execution that would grow past one ends with a stable
// end reason (see the End* constants).
type Limits struct {
	// MaxActions bounds each action list of a definition.
	MaxActions int
	// MaxVariables bounds an execution's variables; MaxVariableBytes one value, MaxVariablesBytes all names and
	// values together.
	MaxVariables      int
	MaxVariableBytes  int
	MaxVariablesBytes int
	// MaxOptionBytes bounds an action's options once ${variables} are substituted.
	MaxOptionBytes int
	// MaxStateBytes bounds an execution's state: its action lists, what it ran and its variables.
	MaxStateBytes int
	// MaxExecuted bounds the actions an execution runs; MaxControlSteps the control actions it runs in a row.
	MaxExecuted     int
	MaxControlSteps int

	// How a definition is read, besides its bounds.

	// Namespace is the id of the flow being written. An action whose id is a label gets the UUID derived from the
	// namespace and the label (UUIDv5), so that the same label names the same action in every revision of the
	// flow. uuid.Nil (no flow yet, as in validation): labels get fresh UUIDs.
	Namespace uuid.UUID
	// Fields is what unknown fields do; the zero value is FieldsStrict.
	Fields FieldValidation
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func (l Limits) maxActions() int   { return orDefault(l.MaxActions, DefaultMaxActions) }
func (l Limits) maxVariables() int { return orDefault(l.MaxVariables, DefaultMaxVariables) }
func (l Limits) maxValue() int     { return orDefault(l.MaxVariableBytes, DefaultMaxVariableBytes) }
func (l Limits) maxVariablesAll() int {
	return orDefault(l.MaxVariablesBytes, DefaultMaxVariablesBytes)
}
func (l Limits) maxOption() int       { return orDefault(l.MaxOptionBytes, DefaultMaxOptionBytes) }
func (l Limits) maxState() int        { return orDefault(l.MaxStateBytes, DefaultMaxStateBytes) }
func (l Limits) maxExecuted() int     { return orDefault(l.MaxExecuted, DefaultMaxExecuted) }
func (l Limits) maxControlSteps() int { return orDefault(l.MaxControlSteps, DefaultMaxControlSteps) }
