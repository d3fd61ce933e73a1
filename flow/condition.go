package flow

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// nextRef finds the first ${name} reference in s at or after from: a name holds neither "{" nor "}". It answers
// where the reference starts and ends, and the name. A scan rather than a regular expression: substitution runs
// for every string of every action, and a scan allocates nothing.
func nextRef(s string, from int) (start, end int, name string, ok bool) {
	for from < len(s) {
		i := strings.Index(s[from:], "${")
		if i < 0 {
			return 0, 0, "", false
		}
		start = from + i
		j := strings.IndexAny(s[start+2:], "{}")
		if j < 0 {
			return 0, 0, "", false
		}
		if k := start + 2 + j; s[k] == '}' {
			return start, k + 1, s[start+2 : k], true
		}
		from = start + 1
	}
	return 0, 0, "", false
}

// substitute replaces ${name} in every string of an option (keys aside) with the variable's value; an unset
// variable becomes "". Options without references are returned as they are. The result holds at most max bytes
// of strings: a larger one answers false, having built no more than that, and so does the request's deadline.
func substitute(ctx context.Context, option json.RawMessage, vars map[string]string, max int) (json.RawMessage, bool) {
	if len(option) == 0 || !bytes.Contains(option, []byte("${")) {
		return option, len(option) <= max
	}
	var v any
	if err := json.Unmarshal(option, &v); err != nil {
		return option, len(option) <= max
	}
	s := substitution{ctx: ctx, vars: vars, budget: max}
	v = s.value(v)
	if s.over {
		return nil, false
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) > max {
		return nil, false
	}
	return b, true
}

// substitution is one substitute, with what it may still write.
type substitution struct {
	ctx    context.Context
	vars   map[string]string
	budget int
	over   bool
}

func (s *substitution) spend(n int) bool {
	s.budget -= n
	if s.budget < 0 || s.ctx.Err() != nil {
		s.over = true
	}
	return !s.over
}

func (s *substitution) value(v any) any {
	if s.over {
		return v
	}
	switch t := v.(type) {
	case string:
		return s.text(t)
	case []any:
		for i := range t {
			t[i] = s.value(t[i])
		}
	case map[string]any:
		for k := range t {
			if s.spend(len(k)) {
				t[k] = s.value(t[k])
			}
		}
	}
	return v
}

func (s *substitution) text(t string) string {
	start, end, name, ok := nextRef(t, 0)
	if !ok {
		s.spend(len(t))
		return t
	}
	var b strings.Builder
	last := 0
	for ok {
		value := s.vars[name]
		if !s.spend(start - last + len(value)) {
			return ""
		}
		b.WriteString(t[last:start])
		b.WriteString(value)
		last = end
		start, end, name, ok = nextRef(t, end)
	}
	if !s.spend(len(t) - last) {
		return ""
	}
	b.WriteString(t[last:])
	return b.String()
}

// variableName is the variable an option names: "name", or VoIPbin's "${name}".
func variableName(s string) string {
	if start, end, name, ok := nextRef(s, 0); ok && start == 0 && end == len(s) {
		return name
	}
	return s
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

// evaluateVariable decides a condition_variable on the value of the variable it names (label), and says why.
func evaluateVariable(o *controlOptions, label, value string) (bool, string) {
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

// evaluate decides a condition action and says why.
func (e *Engine) evaluate(t Type, o *controlOptions, vars map[string]string) (bool, string) {
	switch t {
	case TypeConditionCallDigits:
		// As VoIPbin: the digits reach length, or contain key; with neither set it never holds.
		digits := vars[VarDigits]
		lengthOK := o.Length > 0 && len(digits) >= o.Length
		keyOK := o.Key != "" && strings.Contains(digits, o.Key)
		return lengthOK || keyOK, fmt.Sprintf("digits %q; want length %d or key %q", truncate(digits, maxReasonValue), o.Length, o.Key)

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
