// Package activeflow is the activeflow use case: it starts executions of flows, advances them on a runner's
// reports, stops, deletes and simulates them, starts what their end starts (on_complete_flow_id), and writes each
// change with what it owes the world (its events, its queued webhook_sends) in one transaction. The HTTP layer
// (package server) and an in-process runner (the SIP runner) call it alike: nothing here knows HTTP.
//
// The engine (package flow) hands back what each advance did as a flow.Step; this package persists it, turns it
// into events and counts it.
package activeflow

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/internal/metrics"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store"
)

// Config is what the service works with. Store is required; the others have defaults.
type Config struct {
	Store *store.Store
	// Outbound sends what webhook_send and fetch send; nil: a client with the guard's defaults.
	Outbound *outbound.Client
	// Metrics receives the counts of activeflows started, actions executed and ends; nil: a registry nobody
	// serves.
	Metrics *metrics.Metrics
	// Limits bound every execution and every definition it runs (zero fields: flow's defaults).
	Limits flow.Limits
	// Now is the clock of executions (tm_execute, condition_datetime); nil: the store's.
	Now func() time.Time
	// WakeDeliverer, when not nil, is called once changes with outbox messages commit.
	WakeDeliverer func()
	// Secrets answers a customer's webhook signing secret ("" for none): sync webhook_sends are signed with it,
	// as the outbox's deliveries are. nil: unsigned.
	Secrets events.Secrets
	// ClaimLease is how long a report's claim of a step holds before another may take the step over, should the
	// claimer die before it writes (default 30s: longer than any request may take).
	ClaimLease time.Duration
	// Flow reads a live flow of a customer, for a start, an on_complete start and fetch_flow; nil: the store's
	// GetFlow. The server reads through its flow cache: a call's start then costs no read of its flow.
	Flow func(ctx context.Context, customerID, id uuid.UUID) (*store.Flow, error)
}

// Service runs activeflows.
type Service struct {
	store    *store.Store
	outbound *outbound.Client
	metrics  *metrics.Metrics
	limits   flow.Limits
	now      func() time.Time
	wake     func()
	lease    time.Duration
	secrets  events.Secrets
	flow     func(ctx context.Context, customerID, id uuid.UUID) (*store.Flow, error)
	hooks    hookCache
}

// New makes the service.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, outbound: cfg.Outbound, metrics: cfg.Metrics, limits: cfg.Limits, now: cfg.Now,
		wake: cfg.WakeDeliverer, lease: cfg.ClaimLease, secrets: cfg.Secrets, flow: cfg.Flow}
	if s.flow == nil {
		s.flow = cfg.Store.GetFlow
	}
	if s.lease <= 0 {
		s.lease = 30 * time.Second
	}
	if s.outbound == nil {
		s.outbound = outbound.New(outbound.Config{})
	}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	if s.now == nil {
		s.now = cfg.Store.Now
	}
	return s
}

// Limits are the bounds of every execution the service runs.
func (s *Service) Limits() flow.Limits { return s.limits }

// engine is the execution engine for a customer: fetch_flow reads the customer's flows at their current revision;
// sync webhook_send and fetch go out through out.
func (s *Service) engine(customerID uuid.UUID, now func() time.Time, out flow.Outbound) *flow.Engine {
	if now == nil {
		now = s.now
	}
	return &flow.Engine{
		Limits:   s.limits,
		Now:      now,
		Outbound: out,
		Flows: func(ctx context.Context, id uuid.UUID) ([]flow.Action, int, error) {
			f, err := s.flow(ctx, customerID, id)
			if errors.Is(err, store.ErrNotFound) {
				return nil, 0, flow.ErrFlowNotFound
			}
			if err != nil {
				return nil, 0, err
			}
			return f.Actions, f.Revision, nil
		},
	}
}

// count counts what a change did: an activeflow started, the actions its step executed, its end.
func (s *Service) count(c *change) {
	if c.create {
		s.metrics.ActiveflowsStarted.Inc()
	}
	for _, e := range c.step.Executed {
		s.metrics.ActiveflowSteps.WithLabelValues(string(e.Type)).Inc()
	}
	if c.step.Ended {
		s.metrics.ActiveflowsEnded.WithLabelValues(c.step.EndReason).Inc()
	}
}
