package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// An execution's variables: the names flowbin sets and reserves, the ${name} substitution in options, and the
// limits on what a client, a runner or an action may set.

// Variables every execution knows. Those of the voipbin.activeflow namespace are set when it starts, as VoIPbin
// sets them (a missing id is the nil UUID, as there); a client cannot set any voipbin. variable, and the runner
// only those of voipbin.call.
const (
	VarDigits                  = "voipbin.call.digits"
	VarCallStatus              = "voipbin.call.status"
	VarActiveflowID            = "voipbin.activeflow.id"
	VarActiveflowFlowID        = "voipbin.activeflow.flow_id"
	VarActiveflowReferenceType = "voipbin.activeflow.reference_type"
	VarActiveflowReferenceID   = "voipbin.activeflow.reference_id"
	VarActiveflowReferenceAFID = "voipbin.activeflow.reference_activeflow_id"
	VarActiveflowCompleteCount = "voipbin.activeflow.complete_count"
	VarFlowID                  = "voipbin.flow.id" // flowbin's older name of voipbin.activeflow.flow_id
	reservedPrefix             = "voipbin."
	runnerPrefix               = "voipbin.call."
	activeflowPrefix           = "voipbin.activeflow."
	defaultReferenceType       = "api"
)

// reserved reports whether a variable name is of the voipbin. namespace, as VoIPbin decides it: trimmed and
// compared case-insensitively, so "VoIPbin.activeflow.id" and " voipbin.call.digits" are.
func reserved(name string) bool { return hasPrefixFold(strings.TrimSpace(name), reservedPrefix) }

// runnerName is a name of the voipbin.call namespace that a runner may set, written as the engine reads it
// (trimmed, lower case); ok is false for every other name of the voipbin. namespace.
func runnerName(name string) (string, bool) {
	n := strings.TrimSpace(name)
	if !hasPrefixFold(n, runnerPrefix) {
		return "", false
	}
	return strings.ToLower(n), true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// RunnerVariables keeps the variables a runner may report: its own names, and those of voipbin.call under the
// name the engine reads ("VOIPBIN.call.digits" sets voipbin.call.digits). Other voipbin. names are dropped.
func RunnerVariables(vars map[string]string) map[string]string {
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		if name, ok := runnerName(k); ok {
			if _, exact := vars[name]; exact && name != k {
				continue // the name as written wins over its variants
			}
			out[name] = v
		} else if !reserved(k) {
			out[k] = v
		}
	}
	return out
}

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

// variableBytes is what the variables' names and values take together, the measure of MaxVariablesBytes.
func variableBytes(vars map[string]string) int {
	n := 0
	for k, v := range vars {
		n += len(k) + len(v)
	}
	return n
}

// LimitError is input that would pass an execution's limits. Pointer locates it in the request's variables.
type LimitError struct {
	Pointer string
	Message string
}

func (e *LimitError) Error() string { return "flow: " + e.Message }

// CheckVariables checks variables given as input (at start, in a report, in a simulation's script) against the
// limits, reporting each problem with its pointer below ptr.
func CheckVariables(vars map[string]string, lim Limits, ptr string) []*LimitError {
	var out []*LimitError
	if len(vars) > lim.maxVariables() {
		out = append(out, &LimitError{ptr, fmt.Sprintf("at most %d variables, not %d", lim.maxVariables(), len(vars))})
	}
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case k == "":
			out = append(out, &LimitError{joinPointer(ptr, k), "a variable needs a name"})
		case len(k) > DefaultMaxVariableNameLen:
			out = append(out, &LimitError{joinPointer(ptr, k), fmt.Sprintf("a variable name has at most %d bytes", DefaultMaxVariableNameLen)})
		case len(vars[k]) > lim.maxValue():
			out = append(out, &LimitError{joinPointer(ptr, k), fmt.Sprintf("variable %s has %d bytes; at most %d", truncate(k, 64), len(vars[k]), lim.maxValue())})
		}
		if len(out) >= 20 {
			break
		}
	}
	if n := variableBytes(vars); n > lim.maxVariablesAll() {
		out = append(out, &LimitError{ptr, fmt.Sprintf("variables take %d bytes; at most %d in all", n, lim.maxVariablesAll())})
	}
	return out
}

// checkMerge refuses a runner's variables that would take the execution past its variable limits.
func (x *Execution) checkMerge(vars map[string]string, lim Limits) error {
	if errs := CheckVariables(vars, lim, "/variables"); len(errs) > 0 {
		return errs[0]
	}
	count, bytes := len(x.Variables), variableBytes(x.Variables)
	for k, v := range vars {
		old, had := x.Variables[k]
		if had {
			bytes -= len(k) + len(old)
		} else {
			count++
		}
		bytes += len(k) + len(v)
	}
	switch {
	case count > lim.maxVariables():
		return &LimitError{"/variables", fmt.Sprintf("the execution would hold %d variables; at most %d", count, lim.maxVariables())}
	case bytes > lim.maxVariablesAll():
		return &LimitError{"/variables", fmt.Sprintf("the execution's variables would take %d bytes; at most %d in all", bytes, lim.maxVariablesAll())}
	}
	return nil
}

// set sets a variable, unless that would pass the limits.
func (x *Execution) set(name, value string, lim Limits) bool {
	if name == "" || len(name) > DefaultMaxVariableNameLen || len(value) > lim.maxValue() {
		return false
	}
	if x.checkMerge(map[string]string{name: value}, lim) != nil {
		return false
	}
	x.Variables[name] = value
	x.size = 0
	return true
}
