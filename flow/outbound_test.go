package flow_test

import (
	"context"
	"errors"

	"github.com/flowbin/flowbin/flow"
)

// fakeOutbound answers the requests of webhook_send and fetch as a test says.
type fakeOutbound struct {
	send  func(flow.WebhookRequest) (flow.WebhookResponse, error)
	fetch func(flow.FetchRequest) (flow.FetchResult, error)
	sent  []flow.WebhookRequest
}

func (f *fakeOutbound) Send(_ context.Context, r flow.WebhookRequest) (flow.WebhookResponse, error) {
	f.sent = append(f.sent, r)
	if f.send == nil {
		return flow.WebhookResponse{}, errors.New("no receiver")
	}
	return f.send(r)
}

func (f *fakeOutbound) Fetch(_ context.Context, r flow.FetchRequest) (flow.FetchResult, error) {
	if f.fetch == nil {
		return flow.FetchResult{}, errors.New("no receiver")
	}
	return f.fetch(r)
}
