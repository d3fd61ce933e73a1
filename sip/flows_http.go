package sip

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// HTTPFlows drives activeflows through flowbin's runner protocol over HTTP (POST /v1.0/activeflows, POST
// /v1.0/activeflows/{id}/next with its step, POST /v1.0/activeflows/{id}/stop): the runner can run as a process of
// its own, beside any number of flowbin servers.
type HTTPFlows struct {
	// BaseURL is the flowbin server, such as "http://127.0.0.1:8080".
	BaseURL string
	// Credential answers the bearer credential (an access key) the runner uses for a customer.
	Credential func(customerID uuid.UUID) (string, error)
	// Client makes the requests; http.DefaultClient with a 10 s timeout when nil.
	Client *http.Client

	// current holds the action each running activeflow waits on: the protocol's report names it, and Flows.Next
	// gives only the step.
	current sync.Map // uuid.UUID → uuid.UUID
}

// HTTPError is an answer of the server that is not a success.
type HTTPError struct {
	Status int
	Reason string
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("flowbin answered %d %s: %s", e.Status, e.Reason, e.Body)
}

// ErrStale is the server's 409 STALE_ACTION: another runner (or a retry) already reported this step.
var ErrStale = errors.New("sip: the report is stale")

// wireActiveflow is what the runner reads of an Activeflow answer. Only current_action, status and end_reason
// matter: executed_actions may be absent or hold only the actions of this report.
type wireActiveflow struct {
	ID            uuid.UUID `json:"id"`
	Status        string    `json:"status"`
	EndReason     string    `json:"end_reason"`
	CurrentAction *struct {
		ID     uuid.UUID       `json:"id"`
		Type   flow.Type       `json:"type"`
		Option json.RawMessage `json:"option"`
		Step   int             `json:"step"`
	} `json:"current_action"`
}

func (w *wireActiveflow) step() Step {
	s := Step{ActiveflowID: w.ID}
	if w.Status == "ended" || w.CurrentAction == nil {
		s.Ended = true
		s.EndReason = w.EndReason
		return s
	}
	s.Step = w.CurrentAction.Step
	s.Action = &flow.Action{ID: w.CurrentAction.ID, Type: w.CurrentAction.Type, Option: w.CurrentAction.Option}
	return s
}

// Start starts the activeflow of a call, with the call as its reference (reference_type call, reference_id the
// call's id). Its voipbin.call.* variables arrive with the first report: the API ignores a client's voipbin.
// variables at the start.
func (h *HTTPFlows) Start(ctx context.Context, s StartRequest) (Step, error) {
	body := map[string]any{}
	if s.ReferenceType != "" && s.ReferenceID != uuid.Nil {
		body["reference_type"], body["reference_id"] = s.ReferenceType, s.ReferenceID
	}
	if s.FlowID != uuid.Nil {
		body["flow_id"] = s.FlowID
	} else {
		body["actions"] = s.Actions
	}
	if len(s.Variables) > 0 {
		body["variables"] = s.Variables
	}
	var w wireActiveflow
	if err := h.do(ctx, s.CustomerID, "/v1.0/activeflows", body, &w); err != nil {
		return Step{}, fmt.Errorf("sip: start activeflow: %w", err)
	}
	return h.remember(w.step()), nil
}

// Next reports the step done and answers the next one. An Idempotency-Key makes a retried report safe.
func (h *HTTPFlows) Next(ctx context.Context, customerID, activeflowID uuid.UUID, step int, report Report) (Step, error) {
	v, ok := h.current.Load(activeflowID)
	if !ok {
		return Step{}, fmt.Errorf("sip: report step %d: activeflow %s has no action waiting here", step, activeflowID)
	}
	actionID := v.(uuid.UUID)
	body := map[string]any{"current_action_id": actionID, "step": step}
	if len(report.Variables) > 0 {
		body["variables"] = report.Variables
	}
	var w wireActiveflow
	err := h.do(ctx, customerID, "/v1.0/activeflows/"+activeflowID.String()+"/next", body, &w)
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusConflict && he.Reason == "STALE_ACTION" {
		return Step{}, ErrStale
	}
	if err != nil {
		return Step{}, fmt.Errorf("sip: report step %d: %w", step, err)
	}
	return h.remember(w.step()), nil
}

func (h *HTTPFlows) remember(s Step) Step {
	if s.Ended {
		h.current.Delete(s.ActiveflowID)
	} else {
		h.current.Store(s.ActiveflowID, s.Action.ID)
	}
	return s
}

// Stop ends the activeflow of a call that has ended (or is being hung up) before it: POST …/stop with
// {"reason": "hangup"}, so that it ends with end_reason hangup as the in-process runner's do.
func (h *HTTPFlows) Stop(ctx context.Context, customerID, activeflowID uuid.UUID) error {
	var w wireActiveflow
	body := map[string]string{"reason": "hangup"}
	if err := h.do(ctx, customerID, "/v1.0/activeflows/"+activeflowID.String()+"/stop", body, &w); err != nil {
		return fmt.Errorf("sip: stop activeflow: %w", err)
	}
	h.current.Delete(activeflowID)
	return nil
}

func (h *HTTPFlows) do(ctx context.Context, customerID uuid.UUID, path string, body any, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(h.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Idempotency-Key", uuid.NewString())
	if h.Credential != nil {
		cred, err := h.Credential(customerID)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		var env struct {
			Error struct{ Reason string } `json:"error"`
		}
		_ = json.Unmarshal(b, &env)
		return &HTTPError{Status: res.StatusCode, Reason: env.Error.Reason, Body: string(b)}
	}
	return json.Unmarshal(b, out)
}
