package flow

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// StartKind is what a start document starts.
type StartKind int

// The start document kinds.
const (
	// StartActiveflow: {flow_id | actions, variables}.
	StartActiveflow StartKind = iota
	// StartSimulation: {actions, variables, digits, steps, now}, an inline simulation.
	StartSimulation
	// StartScript: {variables, digits, steps, now}, the script of a stored flow's simulation.
	StartScript
)

// startFields names the fields of each kind of start document, for messages about unknown ones.
var startFields = map[StartKind]string{
	StartActiveflow: "an activeflow has flow_id or actions, variables, id, webhook_uri, webhook_method, on_complete_flow_id, reference_type and reference_id",
	StartSimulation: "a simulation has actions, variables, digits, steps, webhook_responses and now",
	StartScript:     "a simulation's script has variables, digits, steps, webhook_responses and now",
}

// Start is a decoded request to run actions: an activeflow to start, or a simulation.
type Start struct {
	// ID is the activeflow's id when the client chose it (VoIPbin's clients may); uuid.Nil: the server's.
	ID        uuid.UUID
	FlowID    uuid.UUID // uuid.Nil: inline actions
	Actions   []Action
	Variables map[string]string
	Digits    []string
	Steps     []map[string]string // what the runner reports for each runner action, in turn
	// WebhookResponses are what a simulation's sync webhook_sends are answered, in turn.
	WebhookResponses []WebhookResponse
	Now              time.Time // zero: the server's clock
	// WebhookURI and WebhookMethod are where the activeflow's events go (VoIPbin's fields).
	WebhookURI    string
	WebhookMethod string
	// OnCompleteFlowID starts when the activeflow ends, instead of its flow's on_complete_flow_id.
	OnCompleteFlowID uuid.UUID
	// ReferenceType ("" or "api", or "call") and ReferenceID (the call) say what the activeflow runs for; that the
	// call is the caller's is the server's to check.
	ReferenceType string
	ReferenceID   uuid.UUID
}

// ParseStart decodes and validates the body of a request that runs actions, reporting every problem like Parse.
// A flow_id is checked against live when live is not nil.
func ParseStart(ctx context.Context, raw []byte, lim Limits, kind StartKind, live LiveFlows) (*Start, *Report, error) {
	p := newParser(raw, lim)
	st := &Start{Variables: map[string]string{}}
	root := p.root()
	if root != nil {
		var actions, flowID, refType, refID *node
		for _, m := range root.members {
			ptr := joinPointer("", m.key)
			switch {
			case m.key == "flow_id" && kind == StartActiveflow:
				flowID = m.value
				st.FlowID = p.flowRef(m.value, ptr, ReasonInvalidField)
			case m.key == "id" && kind == StartActiveflow:
				st.ID = p.optionalID(m.value, ptr)
			case m.key == "webhook_uri" && kind == StartActiveflow:
				st.WebhookURI = p.optionalURL(m.value, ptr)
			case m.key == "webhook_method" && kind == StartActiveflow:
				st.WebhookMethod = p.method(m.value, ptr)
			case m.key == "on_complete_flow_id" && kind == StartActiveflow:
				st.OnCompleteFlowID = p.flowRef(m.value, ptr, ReasonInvalidField)
			case m.key == "reference_type" && kind == StartActiveflow:
				refType = m.value
				if st.ReferenceType = p.text(m.value, ptr, 16); st.ReferenceType != "" && st.ReferenceType != "api" && st.ReferenceType != "call" {
					p.rep.errorf(m.value.start, ptr, ReasonInvalidField, "reference_type is api or call, not %q", st.ReferenceType)
				}
			case m.key == "reference_id" && kind == StartActiveflow:
				refID = m.value
				st.ReferenceID = p.optionalID(m.value, ptr)
			case m.key == "actions" && kind != StartScript:
				actions = m.value
				st.Actions = p.actions(m.value, ptr)
			case m.key == "variables":
				p.variables(m.value, ptr, st.Variables)
			case m.key == "digits" && kind != StartActiveflow:
				st.Digits = p.strings(m.value, ptr)
			case m.key == "steps" && kind != StartActiveflow:
				st.Steps = p.steps(m.value, ptr)
			case m.key == "webhook_responses" && kind != StartActiveflow:
				st.WebhookResponses = p.webhookResponses(m.value, ptr)
			case m.key == "now" && kind != StartActiveflow:
				st.Now = p.timestamp(m.value, ptr)
			default:
				p.unknownField(m.keyStart, ptr, m.key, "", startFields[kind])
			}
		}
		given := func(n *node) bool { return n != nil && n.kind != kindNull && !(n.kind == kindString && n.text == "") }
		switch {
		case kind == StartActiveflow && given(flowID) == given(actions):
			p.rep.errorf(root.start, "", ReasonInvalidBody, "give either flow_id or actions")
		case kind == StartSimulation && !given(actions):
			p.rep.errorf(root.start, "/actions", ReasonInvalidBody, "actions are required")
		}
		switch {
		case st.ReferenceType == "call" && !given(refID):
			p.rep.errorf(refType.start, "/reference_id", ReasonInvalidField, "reference_type call needs the call's id in reference_id")
		case st.ReferenceType != "call" && given(refID):
			p.rep.errorf(refID.start, "/reference_id", ReasonInvalidField, "reference_id names a call: it goes with reference_type call")
		}
	}
	if err := p.checkFlowRefs(ctx, live); err != nil {
		return nil, nil, err
	}
	p.rep.finish()
	return st, p.rep, nil
}

func (p *parser) variables(n *node, ptr string, into map[string]string) {
	switch n.kind {
	case kindNull:
		return
	case kindObject:
	default:
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "variables must be an object of strings, not %s", n.kind)
		return
	}
	for _, m := range n.members {
		if m.value.kind != kindString {
			p.rep.errorf(m.value.start, joinPointer(ptr, m.key), ReasonInvalidField, "variable values must be strings, not %s", m.value.kind)
			continue
		}
		into[m.key] = m.value.text
	}
	for _, e := range CheckVariables(into, p.lim, ptr) {
		at := n.start
		for _, m := range n.members {
			if joinPointer(ptr, m.key) == e.Pointer {
				at = m.keyStart
			}
		}
		p.rep.errorf(at, e.Pointer, ReasonVariableLimit, "%s", e.Message)
	}
}

// steps reads a simulation's runner script: one {"variables": {…}} for each runner action, in turn.
func (p *parser) steps(n *node, ptr string) []map[string]string {
	if n.kind != kindArray {
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "steps must be an array of objects, not %s", n.kind)
		return nil
	}
	if len(n.items) > p.lim.maxExecuted() {
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "at most %d steps, not %d", p.lim.maxExecuted(), len(n.items))
		return nil
	}
	out := make([]map[string]string, 0, len(n.items))
	for i, item := range n.items {
		iptr := joinPointer(ptr, fmt.Sprint(i))
		vars := map[string]string{}
		if item.kind != kindObject {
			p.rep.errorf(item.start, iptr, ReasonInvalidField, "a step must be an object, not %s", item.kind)
			continue
		}
		for _, m := range item.members {
			if m.key != "variables" {
				p.rep.errorf(m.keyStart, joinPointer(iptr, m.key), ReasonUnknownField, "unknown field %q", m.key)
				continue
			}
			p.variables(m.value, joinPointer(iptr, m.key), vars)
		}
		out = append(out, vars)
	}
	return out
}

// webhookResponses reads a simulation's scripted answers to its sync webhook_sends: {"status", "body"} each, the
// body any JSON value (sent as its JSON text).
func (p *parser) webhookResponses(n *node, ptr string) []WebhookResponse {
	if n.kind != kindArray {
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "webhook_responses must be an array of objects, not %s", n.kind)
		return nil
	}
	if len(n.items) > p.lim.maxExecuted() {
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "at most %d webhook_responses, not %d", p.lim.maxExecuted(), len(n.items))
		return nil
	}
	out := make([]WebhookResponse, 0, len(n.items))
	for i, item := range n.items {
		iptr := joinPointer(ptr, fmt.Sprint(i))
		if item.kind != kindObject {
			p.rep.errorf(item.start, iptr, ReasonInvalidField, "a webhook response must be an object, not %s", item.kind)
			continue
		}
		r := WebhookResponse{Status: http.StatusOK}
		for _, m := range item.members {
			mptr := joinPointer(iptr, m.key)
			switch m.key {
			case "status":
				code, err := strconv.Atoi(m.value.text)
				if m.value.kind != kindNumber || err != nil || code < 100 || code > 599 {
					p.rep.errorf(m.value.start, mptr, ReasonInvalidField, "status must be an HTTP status, 100 to 599")
					continue
				}
				r.Status = code
			case "body":
				r.Body = append([]byte(nil), p.raw[m.value.start:m.value.end]...)
				r.ContentType = "application/json"
			default:
				p.rep.errorf(m.keyStart, mptr, ReasonUnknownField, "unknown field %q; a webhook response has status and body", m.key)
			}
		}
		out = append(out, r)
	}
	return out
}

// optionalID reads a UUID that may be absent ("" or null).
func (p *parser) optionalID(n *node, ptr string) uuid.UUID {
	if n.kind == kindNull || (n.kind == kindString && n.text == "") {
		return uuid.Nil
	}
	if n.kind == kindString {
		if id, ok := ParseID(n.text); ok && id != uuid.Nil {
			return id
		}
	}
	p.rep.errorf(n.start, ptr, ReasonInvalidField, "%s must be a UUID", fieldName(ptr))
	return uuid.Nil
}

// optionalURL reads an absolute http(s) URL that may be absent ("" or null).
func (p *parser) optionalURL(n *node, ptr string) string {
	if n.kind == kindNull || (n.kind == kindString && n.text == "") {
		return ""
	}
	if n.kind != kindString || len(n.text) > 2048 {
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "%s must be an absolute http(s) URL of at most 2048 bytes", fieldName(ptr))
		return ""
	}
	if u, err := url.Parse(n.text); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "%s must be an absolute http(s) URL, not %q", fieldName(ptr), n.text)
		return ""
	}
	return n.text
}

// method reads an HTTP method of a webhook: POST (the default), GET, PUT or DELETE.
func (p *parser) method(n *node, ptr string) string {
	if n.kind == kindNull || (n.kind == kindString && n.text == "") {
		return ""
	}
	if n.kind == kindString {
		switch m := strings.ToUpper(n.text); m {
		case "POST", "GET", "PUT", "DELETE":
			return m
		}
	}
	p.rep.errorf(n.start, ptr, ReasonInvalidField, "%s must be POST, GET, PUT or DELETE", fieldName(ptr))
	return ""
}

func (p *parser) strings(n *node, ptr string) []string {
	if n.kind != kindArray {
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "%s must be an array of strings, not %s", fieldName(ptr), n.kind)
		return nil
	}
	out := make([]string, 0, len(n.items))
	for i, item := range n.items {
		if item.kind != kindString {
			p.rep.errorf(item.start, joinPointer(ptr, fmt.Sprint(i)), ReasonInvalidField, "must be a string, not %s", item.kind)
			continue
		}
		out = append(out, item.text)
	}
	return out
}

// TimeLayout is the wire format of timestamps.
const TimeLayout = "2006-01-02 15:04:05.000000"

// timestamp reads a clock: the wire format (UTC), or RFC 3339 with any offset, as the same instant in UTC.
func (p *parser) timestamp(n *node, ptr string) time.Time {
	if n.kind == kindString {
		if t, err := time.ParseInLocation(TimeLayout, n.text, time.UTC); err == nil {
			return t
		}
		if t, err := time.Parse(time.RFC3339Nano, n.text); err == nil {
			return t.UTC()
		}
	}
	p.rep.errorf(n.start, ptr, ReasonInvalidField, "%s must be a timestamp like \"2026-11-23 08:30:00.000000\" (UTC) "+
		"or RFC 3339 like \"2026-11-23T09:30:00+01:00\"", fieldName(ptr))
	return time.Time{}
}
