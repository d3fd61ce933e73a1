package flow

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// TypeFetch requests an action list from the customer's URL and runs it, validated as a flow's actions, then
// comes back.
const TypeFetch Type = "fetch"

// End reasons of fetch.
const (
	EndFetchFailed  = "fetch_failed"  // fetch's request was refused, failed, timed out or answered other than 2xx
	EndFetchInvalid = "fetch_invalid" // fetch's answer is not a valid action list
)

var _ = register(actionType{
	Spec: Spec{Type: TypeFetch, Fields: []Field{
		{Name: "event_url", Kind: KindURL, Required: true},
		{Name: "event_method", Kind: KindString, Enum: []string{"GET", "POST", "PUT", "DELETE"}},
	}},
	rule:  controlRule(nil, runFetch),
	label: func(o labelOptions) string { return cmp.Or(o.str("uri"), o.str("event_url")) },
})

type fetchOptions struct {
	EventURL    string `json:"event_url"`
	EventMethod string `json:"event_method"`
}

func runFetch(c *call, o *fetchOptions) error {
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
