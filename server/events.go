package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store"
)

// Activeflow events, as VoIPbin names them.
const (
	eventCreated = "activeflow_created"
	eventUpdated = "activeflow_updated"
	eventDeleted = "activeflow_deleted"
	eventWebhook = "webhook_send"
	// maxChain bounds a chain of on_complete_flow_id: VoIPbin's limit of 5 activeflows.
	maxChain = 5
)

// effects collects what executions asked of the world during one request, to be written with their changes.
type effects struct {
	// simulation: nothing is sent nor queued; fetch still requests its actions.
	simulation bool
	queued     []flow.WebhookRequest
}

// webhook runs a webhook_send: a sync one now, through the guarded client; the others queue for the outbox.
func (s *Server) webhook(fx *effects) func(ctx context.Context, r flow.WebhookRequest) flow.WebhookResult {
	return func(ctx context.Context, r flow.WebhookRequest) flow.WebhookResult {
		switch {
		case fx.simulation:
			return flow.WebhookResult{Reason: fmt.Sprintf("not sent: a simulation sends no webhooks (%s %s)", r.Method, r.URI)}
		case !r.Sync:
			fx.queued = append(fx.queued, r)
			return flow.WebhookResult{Reason: fmt.Sprintf("queued for delivery: %s %s", r.Method, r.URI)}
		}
		start := time.Now()
		res, err := s.cfg.Outbound.Do(ctx, outbound.Request{Method: r.Method, URL: r.URI, ContentType: r.DataType, Body: []byte(r.Data)})
		took := time.Since(start).Round(time.Millisecond)
		if err != nil {
			return flow.WebhookResult{Reason: fmt.Sprintf("%s %s failed after %s: %v", r.Method, r.URI, took, err)}
		}
		return flow.WebhookResult{Reason: fmt.Sprintf("%s %s answered %d in %s", r.Method, r.URI, res.Status, took)}
	}
}

// fetch runs a fetch's request through the guarded client.
func (s *Server) fetch(ctx context.Context, r flow.FetchRequest) (flow.FetchResult, error) {
	req := outbound.Request{Method: r.Method, URL: r.URL, Body: r.Body}
	if r.Body != nil {
		req.ContentType = "application/json"
	}
	res, err := s.cfg.Outbound.Do(ctx, req)
	if err != nil {
		return flow.FetchResult{}, err
	}
	return flow.FetchResult{Status: res.Status, Body: res.Body}, nil
}

// change is an activeflow that a request writes, with the event it causes and what its execution queued.
type change struct {
	a      *store.Activeflow
	create bool
	event  string
	queued []flow.WebhookRequest
}

// write stores changes in one transaction, with their messages: the events for the activeflows' and their
// customer's webhooks, and the queued webhook_send requests. Either all of it commits or none. A lone change that
// owes nothing (no webhook anywhere: the common step) is one statement, without a transaction around it.
func (s *Server) write(ctx context.Context, changes ...change) error {
	hooks := make([]*store.CustomerWebhook, len(changes))
	owes := false
	for i, c := range changes {
		hook, err := s.hooks.get(ctx, s.store, c.a.CustomerID)
		if err != nil {
			return err
		}
		hooks[i] = hook
		owes = owes || len(c.queued) > 0 || c.a.WebhookURI != "" || hook.URI != ""
	}
	save := func(ctx context.Context, c change) error {
		if c.create {
			return s.store.CreateActiveflow(ctx, c.a)
		}
		return s.store.SaveActiveflow(ctx, c.a)
	}
	if len(changes) == 1 && !owes {
		return save(ctx, changes[0])
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		var msgs []store.OutboxMessage
		for i, c := range changes {
			if err := save(ctx, c); err != nil {
				return err
			}
			m, err := messages(c, hooks[i])
			if err != nil {
				return err
			}
			msgs = append(msgs, m...)
		}
		return s.store.EnqueueOutbox(ctx, msgs, s.cfg.WakeDeliverer)
	})
}

// messages are what a change owes: its event to each webhook, and its queued webhook_send requests.
func messages(c change, hook *store.CustomerWebhook) ([]store.OutboxMessage, error) {
	var out []store.OutboxMessage
	for _, r := range c.queued {
		out = append(out, store.OutboxMessage{CustomerID: c.a.CustomerID, ActiveflowID: c.a.ID, EventType: eventWebhook,
			URL: r.URI, Method: r.Method, ContentType: r.DataType, Payload: r.Data})
	}
	type destination struct{ url, method string }
	var to []destination
	if c.a.WebhookURI != "" {
		to = append(to, destination{c.a.WebhookURI, c.a.WebhookMethod})
	}
	if hook.URI != "" && hook.URI != c.a.WebhookURI {
		to = append(to, destination{hook.URI, hook.Method})
	}
	if len(to) == 0 {
		return out, nil
	}
	body, err := json.Marshal(gen.ActiveflowEvent{Type: gen.ActiveflowEventType(c.event), Data: toAPIActiveflow(c.a)})
	if err != nil {
		return nil, fmt.Errorf("server: event payload: %w", err)
	}
	for _, d := range to {
		method := d.method
		if method == "" {
			method = http.MethodPost
		}
		out = append(out, store.OutboxMessage{CustomerID: c.a.CustomerID, ActiveflowID: c.a.ID, EventType: c.event,
			URL: d.url, Method: method, ContentType: "application/json", Payload: string(body), Signed: true})
	}
	return out, nil
}

// hookCache remembers customers' webhook settings for a second: every step of every call writes its events
// there, and reading the customer's row for each would cost a query per step. A change made on this instance
// applies at once (forget); one made on another instance applies within hookCacheTTL.
type hookCache struct {
	mu      sync.Mutex
	entries map[uuid.UUID]hookEntry
}

type hookEntry struct {
	hook *store.CustomerWebhook
	at   time.Time
}

const (
	hookCacheTTL  = time.Second
	hookCacheSize = 10000
)

func (c *hookCache) get(ctx context.Context, st *store.Store, id uuid.UUID) (*store.CustomerWebhook, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < hookCacheTTL {
		return e.hook, nil
	}
	hook, err := st.GetCustomerWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= hookCacheSize {
		c.entries = map[uuid.UUID]hookEntry{}
	}
	c.entries[id] = hookEntry{hook, now}
	c.mu.Unlock()
	return hook, nil
}

// forget drops a customer's settings, after this instance changed them.
func (c *hookCache) forget(id uuid.UUID) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}

// completeChain starts what an activeflow's end starts: its on_complete_flow_id as a new activeflow of the same
// customer with its variables, and so on while each ends at once, at most maxChain activeflows in a chain. It
// answers the activeflows to create; a names its successor, or says why there is none.
func (s *Server) completeChain(ctx context.Context, a *store.Activeflow) ([]change, error) {
	var out []change
	for cur := a; cur.State.Ended && cur.OnCompleteFlowID != nil && cur.OnCompleteActiveflowID == nil && cur.OnCompleteError == ""; {
		if cur.CompleteCount+1 >= maxChain {
			cur.OnCompleteError = fmt.Sprintf("not started: a chain of on_complete_flow_id holds at most %d activeflows", maxChain)
			break
		}
		f, err := s.store.GetFlow(ctx, cur.CustomerID, *cur.OnCompleteFlowID)
		if errors.Is(err, store.ErrNotFound) {
			cur.OnCompleteError = fmt.Sprintf("not started: flow %s does not exist", *cur.OnCompleteFlowID)
			break
		}
		if err != nil {
			return nil, err
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		revision, refID := f.Revision, cur.ID
		next := &store.Activeflow{ID: id, CustomerID: cur.CustomerID, FlowID: &f.ID, FlowRevision: &revision,
			ReferenceActiveflowID: &refID, CompleteCount: cur.CompleteCount + 1, OnCompleteFlowID: f.OnCompleteFlowID}
		x := flow.NewExecution(flow.Origin{ActiveflowID: id, FlowID: f.ID, Revision: revision, ReferenceActiveflowID: cur.ID,
			CompleteCount: next.CompleteCount, Inherited: cur.State.Variables}, f.Actions, nil)
		fx := &effects{}
		if err := s.engine(cur.CustomerID, nil, fx).Start(ctx, x); err != nil {
			return nil, err
		}
		next.State = store.State{Execution: *x}
		cur.OnCompleteActiveflowID = &next.ID
		out = append(out, change{a: next, create: true, event: eventCreated, queued: fx.queued})
		cur = next
	}
	return out, nil
}

// ListActiveflowEvents answers an activeflow's outbound messages with their delivery attempts.
func (s *Server) ListActiveflowEvents(ctx context.Context, req gen.ListActiveflowEventsRequestObject) (gen.ListActiveflowEventsResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	if _, err := s.store.GetActiveflow(ctx, customerID, req.Id); err != nil {
		return nil, err
	}
	list, err := s.store.ListOutbox(ctx, customerID, req.Id, 1000)
	if err != nil {
		return nil, err
	}
	out := gen.ListActiveflowEvents200JSONResponse{Result: make([]gen.ActiveflowMessage, len(list))}
	for i, m := range list {
		out.Result[i] = toAPIMessage(&m)
	}
	return out, nil
}

func toAPIMessage(m *store.OutboxMessage) gen.ActiveflowMessage {
	out := gen.ActiveflowMessage{Id: m.ID, Type: m.EventType, Url: m.URL, Method: m.Method,
		State: gen.ActiveflowMessageState(m.State), TmCreate: formatTime(m.TMCreate), Attempts: make([]gen.DeliveryAttempt, len(m.Log))}
	for i, a := range m.Log {
		out.Attempts[i] = gen.DeliveryAttempt{Attempt: a.Attempt, TmAttempt: formatTime(a.TMAttempt), Status: a.Status,
			Error: a.Error, DurationMs: a.DurationMS}
	}
	return out
}

// WebhookSecret answers a customer's current signing secret ("" when it has none), for the deliverer.
func (s *Server) WebhookSecret(ctx context.Context, customerID uuid.UUID) (string, error) {
	hook, err := s.store.GetCustomerWebhook(ctx, customerID)
	if err != nil || hook.SealedSecret == "" {
		return "", err
	}
	sealed, err := base64.StdEncoding.DecodeString(hook.SealedSecret)
	if err != nil {
		return "", fmt.Errorf("server: the stored webhook secret is not base64: %w", err)
	}
	b, err := s.sealer.Open(secretContext(customerID), sealed)
	if err != nil {
		return "", fmt.Errorf("server: open the webhook secret: %w", err)
	}
	return string(b), nil
}

// secretContext binds a sealed webhook secret to its customer: moved to another row, it does not open.
func secretContext(customerID uuid.UUID) []byte {
	return []byte("webhook-secret/" + customerID.String())
}
