package flow

import "fmt"

// TypeConditionCallStatus holds when the call's status (voipbin.call.status) is the option's.
const TypeConditionCallStatus Type = "condition_call_status"

type conditionCallStatusOptions struct {
	falseTargetOption
	Status string `json:"status"`
}

var _ = register(actionType{
	Spec: Spec{Type: TypeConditionCallStatus, Fields: []Field{
		{Name: "status", Kind: KindString, Required: true,
			Enum: []string{"dialing", "ringing", "progressing", "terminating", "canceling", "hangup"}},
		falseTarget(),
	}},
	rule:  conditionRule(holdsCallStatus),
	label: func(o labelOptions) string { return "status " + o.str("status") },
})

func holdsCallStatus(c *call, o *conditionCallStatusOptions) (bool, string) {
	status := c.x.Variables[VarCallStatus]
	return status == o.Status, fmt.Sprintf("call status %q; want %q", status, o.Status)
}
