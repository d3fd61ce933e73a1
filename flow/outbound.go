package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The actions flowbin runs itself that reach the customer's systems: webhook_send and fetch. The engine decides
// what to send; the Engine's Outbound sends what the execution waits for (the guarded outbound client), and the
// webhook_sends that do not wait come back in the Step, queued for the outbox.

// End reasons of fetch.
const (
	EndFetchFailed  = "fetch_failed"  // fetch's request was refused, failed, timed out or answered other than 2xx
	EndFetchInvalid = "fetch_invalid" // fetch's answer is not a valid action list
)

// WebhookRequest is what a webhook_send sends.
type WebhookRequest struct {
	URI      string
	Method   string // POST unless the action says otherwise
	DataType string // the Content-Type of Data
	Data     string
	// Sync requests are sent before the execution goes on; the others are queued for delivery in the background.
	Sync bool
	// ActiveflowID and Step name the request: the execution's voipbin.activeflow.id and the webhook_send's step,
	// the same when a step is performed again (its webhook-id, so that receivers drop repeats).
	ActiveflowID uuid.UUID
	Step         int
}

// WebhookResponse is what a sync webhook_send's URI answered.
type WebhookResponse struct {
	Status int
	Body   []byte
	// ContentType is the answer's Content-Type.
	ContentType string
	// Took is how long the request took.
	Took time.Duration
}

// AbortError is an Outbound's refusal to perform a request at all (the step belongs to someone else): the
// advance stops at once and returns it, and the execution must not be saved.
type AbortError struct{ Err error }

func (e *AbortError) Error() string { return "flow: aborted: " + e.Err.Error() }
func (e *AbortError) Unwrap() error { return e.Err }

// Abort marks an Outbound's error as an AbortError.
func Abort(err error) error { return &AbortError{Err: err} }

// ErrNotSent is what an Outbound answers for a request it does not send (a simulation's webhook_send without a
// scripted answer).
var ErrNotSent = errors.New("not sent")

// FetchRequest is what a fetch requests.
type FetchRequest struct {
	URL    string
	Method string
	// Body is the JSON document sent with methods other than GET: the execution's id and variables.
	Body []byte
}

// FetchResult is what the fetch's URL answered.
type FetchResult struct {
	Status int
	Body   []byte
}

// The rules of webhook_send and fetch (see the rules table in control.go).
func init() {
	rules[TypeWebhookSend] = rule{control: true, run: runWebhookSend}
	rules[TypeFetch] = rule{control: true, run: runFetch}
}

type webhookOptions struct {
	Sync     bool   `json:"sync"`
	URI      string `json:"uri"`
	Method   string `json:"method"`
	DataType string `json:"data_type"`
	Data     string `json:"data"`
	// ResponseVariablePrefix, for a sync webhook_send, sets variables from its answer (responseVariables).
	ResponseVariablePrefix string `json:"response_variable_prefix"`
}

func runWebhookSend(c *call) error {
	var o webhookOptions
	if len(c.a.Option) > 0 {
		_ = json.Unmarshal(c.a.Option, &o) // substituted options of a validated action
	}
	r := WebhookRequest{URI: o.URI, Method: strings.ToUpper(o.Method), DataType: o.DataType, Data: o.Data, Sync: o.Sync,
		Step: c.stepNo}
	r.ActiveflowID, _ = uuid.Parse(c.x.Variables[VarActiveflowID])
	if r.Method == "" {
		r.Method = http.MethodPost
	}
	if r.DataType == "" {
		r.DataType = "application/json"
	}
	reason, err := c.sendWebhook(r, o.ResponseVariablePrefix)
	if err != nil {
		return err
	}
	c.take(0, "send", reason)
	return nil
}

// MaxResponseVariables bounds the variables one webhook_send answer sets.
const MaxResponseVariables = 32

// responseVariables sets variables from a sync webhook_send's answer, by a bounded rule: a 2xx answer whose body
// is a JSON object sets, for each top-level member whose value is a string, a number or a bool, the variable
// prefix+name to that value (a string's text, a number as written, "true" or "false"). Members of other kinds,
// names of the voipbin. namespace and members past the first MaxResponseVariables (in name order) are skipped;
// when the variables would pass the execution's variable limits, none is set. Nothing else of the answer is
// kept. It answers what it did, for the decision.
func (c *call) responseVariables(prefix string, res WebhookResponse) string {
	if res.Status < 200 || res.Status > 299 {
		return "; no variables: the answer is not 2xx"
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(res.Body), &members); err != nil || members == nil {
		return "; no variables: the answer is not a JSON object"
	}
	names := make([]string, 0, len(members))
	for k := range members {
		names = append(names, k)
	}
	sort.Strings(names)
	set := map[string]string{}
	var setNames []string
	skipped := 0
	for _, k := range names {
		raw := members[k]
		var v string
		switch raw[0] {
		case '"':
			_ = json.Unmarshal(raw, &v)
		case 't', 'f':
			v = string(raw)
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			v = string(raw)
		default: // an object, an array, null
			skipped++
			continue
		}
		name := prefix + k
		if reserved(name) || len(set) == MaxResponseVariables {
			skipped++
			continue
		}
		set[name] = v
		setNames = append(setNames, name)
	}
	if err := c.x.checkMerge(set, c.e.Limits); err != nil {
		return fmt.Sprintf("; no variables: the answer's %d would pass the variable limits", len(set))
	}
	for k, v := range set {
		c.x.Variables[k] = v
	}
	c.x.size = 0
	out := fmt.Sprintf("; set %d variables", len(set))
	if len(setNames) > 0 {
		out += ": " + strings.Join(setNames, ", ")
	}
	if skipped > 0 {
		out += fmt.Sprintf(" (%d members skipped)", skipped)
	}
	return out
}

// sendWebhook sends a sync webhook_send, or queues another in the step, and answers the decision's reason. With
// a prefix, a sync one's answer sets variables (responseVariables).
func (c *call) sendWebhook(r WebhookRequest, prefix string) (string, error) {
	switch {
	case !r.Sync && c.e.Simulated:
		return fmt.Sprintf("not sent: a simulation queues no webhooks (%s %s)", r.Method, r.URI), nil
	case !r.Sync:
		c.step.Queued = append(c.step.Queued, r)
		return fmt.Sprintf("queued for delivery: %s %s", r.Method, r.URI), nil
	case c.e.Outbound == nil:
		return "not sent: this engine sends no webhooks", nil
	}
	res, err := c.e.Outbound.Send(c.ctx, r)
	var abort *AbortError
	switch {
	case errors.As(err, &abort):
		return "", abort
	case errors.Is(err, ErrNotSent):
		return fmt.Sprintf("not sent: a simulation sends no webhooks (%s %s)", r.Method, r.URI), nil
	case err != nil:
		return fmt.Sprintf("%s %s failed after %s: %v", r.Method, r.URI, res.Took.Round(time.Millisecond), err), nil
	}
	reason := fmt.Sprintf("%s %s answered %d in %s", r.Method, r.URI, res.Status, res.Took.Round(time.Millisecond))
	if prefix != "" {
		reason += c.responseVariables(prefix, res)
	}
	return reason, nil
}

type fetchOptions struct {
	EventURL    string `json:"event_url"`
	EventMethod string `json:"event_method"`
}

func runFetch(c *call) error {
	var o fetchOptions
	if len(c.a.Option) > 0 {
		_ = json.Unmarshal(c.a.Option, &o)
	}
	method := strings.ToUpper(o.EventMethod)
	if method == "" {
		method = http.MethodGet
	}
	if len(c.x.Frames) >= maxFrames {
		c.end(EndFetchFlowDepth, fmt.Sprintf("fetch nested more than %d deep", maxFrames-1))
		return nil
	}
	if c.e.Outbound == nil {
		c.end(EndFetchFailed, "this engine fetches nothing")
		return nil
	}
	req := FetchRequest{URL: o.EventURL, Method: method}
	if method != http.MethodGet {
		body, err := json.Marshal(map[string]any{
			"activeflow_id": c.x.Variables[VarActiveflowID],
			"reference_id":  c.x.Variables[VarActiveflowReferenceID],
			"variables":     c.x.Variables,
		})
		if err != nil {
			return err
		}
		req.Body = body
	}
	res, err := c.e.Outbound.Fetch(c.ctx, req)
	if err != nil {
		var abort *AbortError
		if errors.As(err, &abort) {
			return abort
		}
		if cerr := c.ctx.Err(); cerr != nil {
			return cerr
		}
		if errors.Is(err, ErrNotSent) {
			c.end(EndFetchFailed, fmt.Sprintf("%s %s: not requested", method, o.EventURL))
			return nil
		}
		c.end(EndFetchFailed, fmt.Sprintf("%s %s: %v", method, o.EventURL, err))
		return nil
	}
	if res.Status < 200 || res.Status > 299 {
		c.end(EndFetchFailed, fmt.Sprintf("%s %s answered %d", method, o.EventURL, res.Status))
		return nil
	}
	actions, problem := fetchedActions(res.Body, c.e.Limits)
	if problem != "" {
		c.end(EndFetchInvalid, fmt.Sprintf("%s %s: %s", method, o.EventURL, problem))
		return nil
	}
	frame := Frame{Source: o.EventURL, Actions: actions}
	if !c.x.fits(c.e.Limits, frameSize(&frame)) {
		c.end(EndStateLimit, fmt.Sprintf("the %d actions from %s would make the execution's state larger than %d bytes",
			len(actions), o.EventURL, c.e.Limits.maxState()))
		return nil
	}
	c.take(0, "fetch", fmt.Sprintf("%d actions from %s %s", len(actions), method, o.EventURL))
	c.x.push(frame)
	return nil
}

// fetchedActions validates a fetch's answer exactly like a flow's actions: a JSON array of actions, or an object
// with "actions". It answers the first problem when there is one.
func fetchedActions(body []byte, lim Limits) ([]Action, string) {
	body = bytes.TrimSpace(body)
	doc := body
	if len(body) == 0 || body[0] != '{' {
		doc = append(append([]byte(`{"actions":`), body...), '}')
	}
	def, rep := Parse(doc, lim)
	if !rep.Valid() {
		p := rep.Errors[0]
		msg := p.Message
		if len(rep.Errors) > 1 {
			msg = fmt.Sprintf("%d problems; the first at %q: %s", len(rep.Errors), p.Pointer, p.Message)
		} else if p.Pointer != "" {
			msg = fmt.Sprintf("at %q: %s", p.Pointer, p.Message)
		}
		return nil, "not a valid action list: " + msg
	}
	if len(def.Actions) == 0 {
		return nil, "no actions"
	}
	return def.Actions, ""
}
