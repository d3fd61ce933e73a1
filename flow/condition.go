package flow

// What the condition types (condition_call_digits, condition_call_status, condition_datetime,
// condition_variable) share: a rule that goes on when the condition holds and to false_target_id when it does not,
// and the comparison operators.

// conditions are the comparison operators of condition_datetime and condition_variable.
var conditions = []string{"==", "!=", ">", ">=", "<", "<="}

func falseTarget() Field { return Field{Name: "false_target_id", Kind: KindString, Ref: RefAction} }

// falseTargetOption is the option every condition has: where to go when it does not hold.
type falseTargetOption struct {
	FalseTargetID string `json:"false_target_id"`
}

func (o *falseTargetOption) falseTarget() string { return o.FalseTargetID }

// conditionRule is the rule of a condition whose options decode into O (which embeds falseTargetOption): holds
// decides it and says why.
func conditionRule[O any, P interface {
	*O
	falseTarget() string
}](holds func(c *call, o *O) (bool, string)) rule {
	moves := func(o *O) []move {
		return []move{{Kind: EdgeTrue}, {Kind: EdgeFalse, Ref: P(o).falseTarget(), Fallback: true}}
	}
	return controlRule(moves, func(c *call, o *O) error {
		ok, why := holds(c, o)
		if ok {
			c.take(0, "", "holds: "+why)
			return nil
		}
		if _, found := c.target(P(o).falseTarget()); !found {
			why += "; no false_target_id"
		}
		c.take(1, "", "does not hold: "+why)
		return nil
	})
}

// compare applies a comparison operator to the result of a three-way comparison.
func compare(op string, c int) bool {
	switch op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	}
	return false
}
