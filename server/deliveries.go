package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store"
)

// ListEvents answers a page of the customer's outbound messages, newest first, with their attempts.
func (s *Server) ListEvents(ctx context.Context, req gen.ListEventsRequestObject) (gen.ListEventsResponseObject, error) {
	page, err := toPage(req.Params.PageSize, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	list, err := s.store.ListCustomerOutbox(ctx, principalFrom(ctx).CustomerID, page)
	if err != nil {
		return nil, err
	}
	out := gen.ListEvents200JSONResponse{Result: make([]gen.EventDelivery, len(list)),
		NextPageToken: nextPageToken(list, func(m *store.OutboxMessage) time.Time { return m.TMCreate })}
	for i := range list {
		m := toAPIMessage(&list[i])
		out.Result[i] = gen.EventDelivery{Id: m.Id, ActiveflowId: list[i].ActiveflowID, Type: m.Type, Url: m.Url,
			Method: m.Method, State: gen.EventDeliveryState(m.State), Attempts: m.Attempts,
			AttemptCount: list[i].Attempts, TmCreate: m.TmCreate}
	}
	return out, nil
}

// webhookTestEvent is the body of a test delivery: an event of its own type, so that a receiver can tell it from
// an activeflow's.
type webhookTestEvent struct {
	Type string `json:"type"`
	Data struct {
		CustomerID uuid.UUID `json:"customer_id"`
		Message    string    `json:"message"`
		TMCreate   string    `json:"tm_create"`
	} `json:"data"`
}

// TestCustomerWebhook sends one signed test event to the customer's webhook, now, with the client and the
// signatures of every delivery, and reports how it went. It is not queued: a person is waiting for the answer.
func (s *Server) TestCustomerWebhook(ctx context.Context, _ gen.TestCustomerWebhookRequestObject) (gen.TestCustomerWebhookResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	hook, err := s.store.GetCustomerWebhook(ctx, customerID)
	if err != nil {
		return nil, err
	}
	if hook.URI == "" {
		return nil, webhookNotSet()
	}
	secret, err := s.WebhookSecret(ctx, customerID)
	if err != nil {
		return nil, err
	}
	id := uuid.New()
	start := s.store.Now()
	ev := webhookTestEvent{Type: "webhook_test"}
	ev.Data.CustomerID, ev.Data.Message, ev.Data.TMCreate = customerID, "a test event from flowbin", formatTime(start)
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("server: webhook test body: %w", err)
	}
	header := http.Header{}
	if secret != "" {
		if header, err = events.SignatureHeaders(secret, id.String(), start, body); err != nil {
			return nil, err
		}
	} else {
		// Unsigned, as every delivery of a customer without a secret: its id and time only.
		header.Set(events.HeaderID, id.String())
		header.Set(events.HeaderTimestamp, strconv.FormatInt(start.Unix(), 10))
	}
	method := hook.Method
	if method == "" {
		method = http.MethodPost
	}
	began := time.Now()
	res, sendErr := s.cfg.Outbound.Do(ctx, outbound.Request{Method: method, URL: hook.URI, ContentType: "application/json",
		Header: header, Body: body})
	out := gen.TestCustomerWebhook200JSONResponse{Id: id, Url: hook.URI, Method: method, Signed: secret != "",
		DurationMs: int(time.Since(began).Milliseconds())}
	switch {
	case sendErr != nil && ctx.Err() != nil:
		return nil, errors.Join(ctx.Err(), sendErr)
	case sendErr != nil:
		out.Error = sendErr.Error()
	default:
		out.StatusCode = res.Status
		if res.Status < 200 || res.Status > 299 {
			out.Error = fmt.Sprintf("answered %d", res.Status)
		}
	}
	return out, nil
}
