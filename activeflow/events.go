package activeflow

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store"
)

// Activeflow events, as VoIPbin names them, and the outbox type of a queued webhook_send.
const (
	EventCreated = "activeflow_created"
	EventUpdated = "activeflow_updated"
	EventDeleted = "activeflow_deleted"
	EventWebhook = "webhook_send"
)

// change is an activeflow that a request writes, with the event it causes and the step that changed it.
type change struct {
	a      *store.Activeflow
	create bool
	event  string
	step   flow.Step
}

// write stores changes with their messages, all or none: the events for the activeflows' and their customer's
// webhooks, and the queued webhook_send requests. A lone change (a start, a step) is one statement on PostgreSQL,
// its events included; several (an end and what its on_complete_flow_id starts) are one transaction
// (store.WriteActiveflows).
func (s *Service) write(ctx context.Context, changes ...*change) error {
	out := make([]store.ActiveflowChange, len(changes))
	for i, c := range changes {
		hook, err := s.hooks.get(ctx, s.store, c.a.CustomerID)
		if err != nil {
			return err
		}
		out[i] = store.ActiveflowChange{A: c.a, Create: c.create,
			Owes: func(*store.Activeflow) ([]store.OutboxMessage, error) { return s.messages(c, hook) }}
	}
	return s.store.WriteActiveflows(ctx, s.wake, out...)
}

// messages are what a change owes: its events to each webhook, and its queued webhook_send requests.
func (s *Service) messages(c *change, hook *store.CustomerWebhook) ([]store.OutboxMessage, error) {
	var out []store.OutboxMessage
	for _, r := range c.step.Queued {
		out = append(out, store.OutboxMessage{CustomerID: c.a.CustomerID, ActiveflowID: c.a.ID, EventType: EventWebhook,
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
	evs, err := eventsOf(c, hook.EventVariables)
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		for _, d := range to {
			method := d.method
			if method == "" {
				method = http.MethodPost
			}
			out = append(out, store.OutboxMessage{CustomerID: c.a.CustomerID, ActiveflowID: c.a.ID, EventType: ev.typ,
				URL: d.url, Method: method, ContentType: "application/json", Payload: ev.body, Signed: true})
		}
	}
	return out, nil
}

// Notify writes events of another of the customer's records (a call, a recording) to the customer's webhook, in
// the transaction of ctx: one message per type, in VoIPbin's {"type", "data"} shape with data as the record's
// answer, signed as the activeflow events are. activeflowID is the activeflow the record belongs to (uuid.Nil:
// none). A customer without a webhook is sent nothing.
func (s *Service) Notify(ctx context.Context, customerID, activeflowID uuid.UUID, data any, types ...string) error {
	hook, err := s.hooks.get(ctx, s.store, customerID)
	if err != nil || hook.URI == "" || len(types) == 0 {
		return err
	}
	method := hook.Method
	if method == "" {
		method = http.MethodPost
	}
	msgs := make([]store.OutboxMessage, 0, len(types))
	for _, typ := range types {
		body, err := json.Marshal(struct {
			Type string `json:"type"`
			Data any    `json:"data"`
		}{typ, data})
		if err != nil {
			return fmt.Errorf("activeflow: %s event payload: %w", typ, err)
		}
		msgs = append(msgs, store.OutboxMessage{CustomerID: customerID, ActiveflowID: activeflowID, EventType: typ,
			URL: hook.URI, Method: method, ContentType: "application/json", Payload: string(body), Signed: true})
	}
	return s.store.EnqueueOutbox(ctx, msgs, s.wake)
}

// hookCache remembers customers' webhook settings for a second: every step of every call writes its events
// there, and reading the customer's row for each would cost a query per step. A change made on this instance
// applies at once (ForgetCustomer); one made on another instance applies within hookCacheTTL.
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

// ForgetCustomer drops what the service remembers of a customer's settings, after this instance changed them.
func (s *Service) ForgetCustomer(id uuid.UUID) {
	s.hooks.mu.Lock()
	delete(s.hooks.entries, id)
	s.hooks.mu.Unlock()
}
