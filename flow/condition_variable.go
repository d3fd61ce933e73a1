package flow

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TypeConditionVariable compares a variable with a string, a number or a length.
const TypeConditionVariable Type = "condition_variable"

type conditionVariableOptions struct {
	falseTargetOption
	Condition   string  `json:"condition"`
	Variable    string  `json:"variable"`
	ValueType   string  `json:"value_type"`
	ValueString string  `json:"value_string"`
	ValueNumber float64 `json:"value_number"`
	ValueLength int     `json:"value_length"`
}

var _ = register(actionType{
	Spec: Spec{Type: TypeConditionVariable, Fields: []Field{
		{Name: "condition", Kind: KindString, Required: true, Enum: conditions},
		{Name: "variable", Kind: KindString, Required: true, MinLen: 1},
		{Name: "value_type", Kind: KindString, Enum: []string{"string", "number", "length"}},
		{Name: "value_string", Kind: KindString},
		{Name: "value_number", Kind: KindNumber},
		func() Field { f := intField("value_length", 0, 0); f.Max = nil; return f }(),
		falseTarget(),
	}},
	// Without value_type, VoIPbin's condition_variable never holds (it matches no type); flowbin's compares as a
	// string, which is what such a flow means. The warning says so, so that a flow written for flowbin does not
	// surprise on VoIPbin, and the other way round.
	rule: conditionRule(holdsVariable).warns(warnMissing("value_type", WarnConditionNoValueType,
		"condition_variable without value_type compares as a string (value_string); VoIPbin's never holds")),
	label: func(o labelOptions) string {
		return strings.TrimSpace(fmt.Sprintf("%s %s %s", o.str("variable"), o.str("condition"),
			cmp.Or(o.str("value_string"), o.str("value_number"), o.str("value_length"))))
	},
})

func holdsVariable(c *call, o *conditionVariableOptions) (bool, string) {
	label, value := variableSubject(c, o)
	return evaluateVariable(o, label, value)
}

// variableSubject is what a condition_variable compares: the variable its option names (a name, or VoIPbin's
// "${name}"), or, for any other text with ${variables} in it, that text substituted, as VoIPbin compares it.
func variableSubject(c *call, o *conditionVariableOptions) (label, value string) {
	raw := decodeOptions[conditionVariableOptions](c.raw).Variable
	name := variableName(raw)
	if name == raw && hasVariable(raw) {
		return strconv.Quote(truncate(raw, maxReasonValue)), o.Variable
	}
	return name, c.x.Variables[name]
}

// evaluateVariable decides a condition_variable on the value of the variable it names (label), and says why.
func evaluateVariable(o *conditionVariableOptions, label, value string) (bool, string) {
	shown := truncate(value, maxReasonValue)
	switch o.ValueType {
	case "number":
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return false, fmt.Sprintf("%s is %q, not a number", label, shown)
		}
		return compare(o.Condition, cmp.Compare(n, o.ValueNumber)),
			fmt.Sprintf("%s (%v) %s %v", label, n, o.Condition, o.ValueNumber)
	case "length":
		n := utf8.RuneCountInString(value)
		return compare(o.Condition, cmp.Compare(n, o.ValueLength)),
			fmt.Sprintf("length of %s (%d) %s %d", label, n, o.Condition, o.ValueLength)
	default:
		return compare(o.Condition, cmp.Compare(value, o.ValueString)),
			fmt.Sprintf("%s (%q) %s %q", label, shown, o.Condition, truncate(o.ValueString, maxReasonValue))
	}
}
