package flow

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// TypeWebhookSend sends a request to the customer's URI: queued for delivery once the step is written, or, with
// sync, sent before the execution goes on, its answer setting variables with response_variable_prefix.
const TypeWebhookSend Type = "webhook_send"

var _ = register(actionType{
	Spec: Spec{Type: TypeWebhookSend, Fields: []Field{
		{Name: "sync", Kind: KindBool},
		{Name: "uri", Kind: KindURL, Required: true},
		{Name: "method", Kind: KindString, Enum: []string{"POST", "GET", "PUT", "DELETE"}},
		{Name: "data_type", Kind: KindString},
		{Name: "data", Kind: KindString},
		{Name: "response_variable_prefix", Kind: KindString},
	}},
	rule:  controlRule(nil, runWebhookSend),
	label: func(o labelOptions) string { return cmp.Or(o.str("uri"), o.str("event_url")) },
})

type webhookOptions struct {
	Sync     bool   `json:"sync"`
	URI      string `json:"uri"`
	Method   string `json:"method"`
	DataType string `json:"data_type"`
	Data     string `json:"data"`
	// ResponseVariablePrefix, for a sync webhook_send, sets variables from its answer (responseVariables).
	ResponseVariablePrefix string `json:"response_variable_prefix"`
}

func runWebhookSend(c *call, o *webhookOptions) error {
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
