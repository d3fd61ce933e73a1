package server

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

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
