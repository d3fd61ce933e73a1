package flow

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// variableRef is a ${name} reference in an option string.
var variableRef = regexp.MustCompile(`\$\{([^{}]*)\}`)

// substitute replaces ${name} in every string of an option (keys aside) with the variable's value; an unset
// variable becomes "". Options without references are returned as they are.
func substitute(option json.RawMessage, vars map[string]string) json.RawMessage {
	if len(option) == 0 || !strings.Contains(string(option), "${") {
		return option
	}
	var v any
	if err := json.Unmarshal(option, &v); err != nil {
		return option
	}
	b, err := json.Marshal(substituteValue(v, vars))
	if err != nil {
		return option
	}
	return b
}

func substituteValue(v any, vars map[string]string) any {
	switch t := v.(type) {
	case string:
		return variableRef.ReplaceAllStringFunc(t, func(ref string) string { return vars[ref[2:len(ref)-1]] })
	case []any:
		for i := range t {
			t[i] = substituteValue(t[i], vars)
		}
	case map[string]any:
		for k := range t {
			t[k] = substituteValue(t[k], vars)
		}
	}
	return v
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

// evaluate decides a condition action and says why.
func (e *Engine) evaluate(t Type, o *controlOptions, vars map[string]string) (bool, string) {
	switch t {
	case TypeConditionVariable:
		value := vars[o.Variable]
		switch o.ValueType {
		case "number":
			n, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return false, fmt.Sprintf("%s is %q, not a number", o.Variable, value)
			}
			return compare(o.Condition, cmp.Compare(n, o.ValueNumber)),
				fmt.Sprintf("%s (%v) %s %v", o.Variable, n, o.Condition, o.ValueNumber)
		case "length":
			n := utf8.RuneCountInString(value)
			return compare(o.Condition, cmp.Compare(n, o.ValueLength)),
				fmt.Sprintf("length of %s (%d) %s %d", o.Variable, n, o.Condition, o.ValueLength)
		default:
			return compare(o.Condition, cmp.Compare(value, o.ValueString)),
				fmt.Sprintf("%s (%q) %s %q", o.Variable, value, o.Condition, o.ValueString)
		}

	case TypeConditionCallDigits:
		digits := vars[VarDigits]
		lengthOK := o.Length == 0 || len(digits) == o.Length
		keyOK := o.Key == "" || strings.Contains(digits, o.Key)
		return lengthOK && keyOK, fmt.Sprintf("digits %q; want length %d and key %q", digits, o.Length, o.Key)

	case TypeConditionCallStatus:
		status := vars[VarCallStatus]
		return status == o.Status, fmt.Sprintf("call status %q; want %q", status, o.Status)

	case TypeConditionDatetime:
		return e.evaluateDatetime(o)
	}
	return false, "not a condition"
}

// evaluateDatetime compares the clock (UTC) with the option's fields. Month, day, hour and minute that are set
// (month 1-12, the others 0 and up; 0 or -1 mean any) form a tuple compared in that order, so that
// {"condition": ">=", "hour": 8, "minute": 30} holds from 08:30 to the end of the day. weekdays, when not empty,
// must also contain today (Sunday 0).
func (e *Engine) evaluateDatetime(o *controlOptions) (bool, string) {
	now := e.now()
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
	c := slices.Compare(have, want)
	holds := len(have) == 0 || compare(o.Condition, c)
	why := fmt.Sprintf("%s UTC %s %s", now.Format(time.DateTime), o.Condition, strings.Join(parts, ", "))
	if len(o.Weekdays) > 0 {
		today := int(now.Weekday())
		inDays := slices.Contains(o.Weekdays, today)
		holds = holds && inDays
		why += fmt.Sprintf("; weekday %d in %v: %v", today, o.Weekdays, inDays)
	}
	return holds, why
}
