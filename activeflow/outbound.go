package activeflow

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/events"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store"
)

// sender is the engine's Outbound for one change: sync webhook_send and fetch through the guarded client, each
// after the change has claimed its activeflow's step.
type sender struct {
	s          *Service
	customerID uuid.UUID
	// a is the activeflow the change advances (nil for a start: no one else can advance it yet).
	a *store.Activeflow
}

func (s *Service) sender(customerID uuid.UUID, a *store.Activeflow) *sender {
	return &sender{s: s, customerID: customerID, a: a}
}

// claim claims the step of the activeflow being advanced before the first request leaves: of two reports of one
// step, only the one whose claim the database took performs anything; the other is aborted, unsent.
func (o *sender) claim(ctx context.Context) error {
	if o.a == nil || o.a.HoldsClaim() {
		return nil
	}
	if err := o.s.store.ClaimActiveflow(ctx, o.a, o.s.lease); err != nil {
		return flow.Abort(err)
	}
	return nil
}

// Send sends a sync webhook_send.
func (o *sender) Send(ctx context.Context, r flow.WebhookRequest) (flow.WebhookResponse, error) {
	if err := o.claim(ctx); err != nil {
		return flow.WebhookResponse{}, err
	}
	header, err := o.sign(ctx, r)
	if err != nil {
		return flow.WebhookResponse{}, err
	}
	start := time.Now()
	res, err := o.s.outbound.Do(ctx, outbound.Request{Method: r.Method, URL: r.URI, ContentType: r.DataType, Header: header,
		Body: []byte(r.Data)})
	took := time.Since(start)
	if err != nil {
		return flow.WebhookResponse{Took: took}, err
	}
	return flow.WebhookResponse{Status: res.Status, Body: res.Body, ContentType: res.Header.Get("Content-Type"), Took: took}, nil
}

// sign answers the headers of a sync webhook_send, as every delivery of the outbox carries them: a webhook-id
// named by the activeflow and the step (a step performed again sends the same one, so receivers drop repeats), its
// time, and, once the customer has a secret, both signatures (Standard Webhooks' and VoIPbin's).
func (o *sender) sign(ctx context.Context, r flow.WebhookRequest) (http.Header, error) {
	id := uuid.NewSHA1(r.ActiveflowID, []byte("webhook_send/"+strconv.Itoa(r.Step))).String()
	now := time.Now()
	secret := ""
	if o.s.secrets != nil {
		var err error
		if secret, err = o.s.secrets(ctx, o.customerID); err != nil {
			return nil, fmt.Errorf("the customer's webhook secret cannot be read: %w", err)
		}
	}
	if secret == "" {
		return http.Header{events.HeaderID: {id}, events.HeaderTimestamp: {strconv.FormatInt(now.Unix(), 10)}}, nil
	}
	return events.SignatureHeaders(secret, id, now, []byte(r.Data))
}

// Fetch requests what a fetch requests.
func (o *sender) Fetch(ctx context.Context, r flow.FetchRequest) (flow.FetchResult, error) {
	if err := o.claim(ctx); err != nil {
		return flow.FetchResult{}, err
	}
	req := outbound.Request{Method: r.Method, URL: r.URL, Body: r.Body}
	if r.Body != nil {
		req.ContentType = "application/json"
	}
	res, err := o.s.outbound.Do(ctx, req)
	if err != nil {
		return flow.FetchResult{}, err
	}
	return flow.FetchResult{Status: res.Status, Body: res.Body}, nil
}
