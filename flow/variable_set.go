package flow

import "fmt"

// TypeVariableSet sets a variable of the execution.
const TypeVariableSet Type = "variable_set"

type variableSetOptions struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

var _ = register(actionType{
	Spec: Spec{Type: TypeVariableSet, Fields: []Field{
		{Name: "key", Kind: KindString, Required: true, MinLen: 1},
		{Name: "value", Kind: KindString},
	}},
	rule:  controlRule(nil, runVariableSet),
	label: func(o labelOptions) string { return o.str("key") + " = " + o.str("value") },
})

func runVariableSet(c *call, o *variableSetOptions) error {
	// The value was substituted with the rest of the options.
	if !c.x.set(o.Key, o.Value, c.e.Limits) {
		c.end(EndVariableLimit, fmt.Sprintf("setting %s would pass the variable limits", o.Key))
		return nil
	}
	c.take(0, "set", fmt.Sprintf("%s = %q", o.Key, truncate(o.Value, 200)))
	return nil
}
