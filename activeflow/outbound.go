package activeflow

import (
	"context"
	"time"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store"
)

// sender is the engine's Outbound for one change: sync webhook_send and fetch through the guarded client, each
// after the change has claimed its activeflow's step.
type sender struct {
	s *Service
	// a is the activeflow the change advances (nil for a start: no one else can advance it yet).
	a *store.Activeflow
}

func (s *Service) sender(a *store.Activeflow) *sender { return &sender{s: s, a: a} }

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
	start := time.Now()
	res, err := o.s.outbound.Do(ctx, outbound.Request{Method: r.Method, URL: r.URI, ContentType: r.DataType, Body: []byte(r.Data)})
	took := time.Since(start)
	if err != nil {
		return flow.WebhookResponse{Took: took}, err
	}
	return flow.WebhookResponse{Status: res.Status, Body: res.Body, ContentType: res.Header.Get("Content-Type"), Took: took}, nil
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
