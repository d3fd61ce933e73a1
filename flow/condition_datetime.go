package flow

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// TypeConditionDatetime compares the clock (UTC) with a date and time.
const TypeConditionDatetime Type = "condition_datetime"

type conditionDatetimeOptions struct {
	falseTargetOption
	Condition string `json:"condition"`
	Minute    *int   `json:"minute"`
	Hour      *int   `json:"hour"`
	Day       *int   `json:"day"`
	Month     *int   `json:"month"`
	Weekdays  []int  `json:"weekdays"`
}

var _ = register(actionType{
	Spec: Spec{Type: TypeConditionDatetime, Fields: []Field{
		{Name: "condition", Kind: KindString, Required: true, Enum: conditions},
		intField("minute", -1, 59),
		intField("hour", -1, 23),
		intField("day", -1, 31),
		intField("month", 0, 12),
		func() Field { f := intField("weekdays", 0, 6); f.Kind = KindIntList; return f }(),
		falseTarget(),
	}},
	rule: conditionRule(holdsDatetime),
	label: func(o labelOptions) string {
		var parts []string
		for _, k := range []string{"month", "day", "hour", "minute"} {
			if v, ok := o[k].(float64); ok && v >= 0 {
				parts = append(parts, fmt.Sprintf("%s %v", k, v))
			}
		}
		if w := o.str("weekdays"); w != "" && w != "[]" {
			parts = append(parts, "weekdays "+w)
		}
		return o.str("condition") + " " + strings.Join(parts, ", ")
	},
})

// holdsDatetime compares the clock (UTC) with the option's fields. Month, day, hour and minute that are set
// (month 1-12, the others 0 and up; 0 or -1 mean any) form a tuple compared in that order, so that
// {"condition": ">=", "hour": 8, "minute": 30} holds from 08:30 to the end of the day. weekdays, when not empty,
// must also contain today (Sunday 0).
func holdsDatetime(c *call, o *conditionDatetimeOptions) (bool, string) {
	now := c.e.now()
	var have, want []int
	var parts []string
	add := func(name string, field *int, value, anyBelow int) {
		if field != nil && *field >= anyBelow {
			have, want = append(have, value), append(want, *field)
			parts = append(parts, fmt.Sprintf("%s %d", name, *field))
		}
	}
	add("month", o.Month, int(now.Month()), 1)
	add("day", o.Day, now.Day(), 1)
	add("hour", o.Hour, now.Hour(), 0)
	add("minute", o.Minute, now.Minute(), 0)
	cmp := slices.Compare(have, want)
	holds := len(have) == 0 || compare(o.Condition, cmp)
	why := fmt.Sprintf("%s UTC %s %s", now.Format(time.DateTime), o.Condition, strings.Join(parts, ", "))
	if len(o.Weekdays) > 0 {
		today := int(now.Weekday())
		inDays := slices.Contains(o.Weekdays, today)
		holds = holds && inDays
		why += fmt.Sprintf("; weekday %d in %v: %v", today, o.Weekdays, inDays)
	}
	return holds, why
}
