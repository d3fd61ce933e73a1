package flow

import (
	"fmt"
	"strings"
)

// TypeConditionCallDigits holds when the call's digits reach length or contain key.
const TypeConditionCallDigits Type = "condition_call_digits"

type conditionCallDigitsOptions struct {
	falseTargetOption
	Length int    `json:"length"`
	Key    string `json:"key"`
}

var _ = register(actionType{
	Spec: Spec{Type: TypeConditionCallDigits, Fields: []Field{
		intField("length", 0, 100),
		{Name: "key", Kind: KindString, Pattern: dtmfKey},
		falseTarget(),
	}},
	rule: conditionRule(holdsCallDigits),
})

// holdsCallDigits: as VoIPbin, the digits reach length, or contain key; with neither set it never holds.
func holdsCallDigits(c *call, o *conditionCallDigitsOptions) (bool, string) {
	digits := c.x.Variables[VarDigits]
	lengthOK := o.Length > 0 && len(digits) >= o.Length
	keyOK := o.Key != "" && strings.Contains(digits, o.Key)
	return lengthOK || keyOK, fmt.Sprintf("digits %q; want length %d or key %q", truncate(digits, maxReasonValue), o.Length, o.Key)
}
