package flow

// TypeStop ends the execution.
const TypeStop Type = "stop"

var _ = register(actionType{
	Spec: Spec{Type: TypeStop},
	rule: rule{control: true, terminal: true, run: func(c *call) error {
		c.end(EndStop, "stop")
		return nil
	}},
})
