package activeflow

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store"
)

// ReferenceAPI is the reference_type of an activeflow started through the API, as VoIPbin names it.
const ReferenceAPI = "api"

// StartRequest starts an activeflow: of a flow's current revision, or of inline actions (validated by the
// caller, as flow.ParseStart validates them).
type StartRequest struct {
	CustomerID uuid.UUID
	// ID is the activeflow's id when the client chose it; uuid.Nil: a new one.
	ID uuid.UUID
	// FlowID names the flow to run; uuid.Nil: Actions.
	FlowID    uuid.UUID
	Actions   []flow.Action
	Variables map[string]string
	// OnCompleteFlowID starts when the activeflow ends, instead of its flow's on_complete_flow_id.
	OnCompleteFlowID uuid.UUID
	// WebhookURI and WebhookMethod are where the activeflow's events go, besides its customer's webhook.
	WebhookURI    string
	WebhookMethod string
	// ReferenceType and ReferenceID are what it runs for: "" is "api" (and no id); "call" and the call's id for a
	// call's runner.
	ReferenceType string
	ReferenceID   uuid.UUID
	// RunnerVariables are the runner's voipbin.call variables known at the start (a call's source, destination,
	// direction), set before the first action; unlike Variables, which are the client's and never set voipbin.
	// names.
	RunnerVariables map[string]string
}

// Every change below is decided on the pool (store.Outside: reads, claims, requests to customers' systems) and
// written with ctx, which may carry a transaction (an Idempotency-Key's): no transaction is held open while a
// request is out.

// Start starts an activeflow and runs it up to its first runner action (its current action), or to its end, and
// writes it with its events. An id that exists already is an *ExistsError.
func (s *Service) Start(ctx context.Context, r StartRequest) (*store.Activeflow, error) {
	pool := store.Outside(ctx)
	a := &store.Activeflow{ID: r.ID, CustomerID: r.CustomerID, WebhookURI: r.WebhookURI, WebhookMethod: r.WebhookMethod,
		ReferenceType: r.ReferenceType}
	if a.ReferenceType == "" {
		a.ReferenceType = ReferenceAPI
	}
	if r.ReferenceID != uuid.Nil {
		ref := r.ReferenceID
		a.ReferenceID = &ref
	}
	actions, revision := r.Actions, 0
	if r.FlowID != uuid.Nil {
		f, err := s.flow(pool, r.CustomerID, r.FlowID)
		if err != nil {
			return nil, err
		}
		actions, revision = f.Actions, f.Revision
		a.FlowID, a.FlowRevision, a.OnCompleteFlowID = &f.ID, &revision, f.OnCompleteFlowID
	}
	if r.OnCompleteFlowID != uuid.Nil {
		on := r.OnCompleteFlowID
		a.OnCompleteFlowID = &on
	}
	// The id goes into the variables before the first advance: options may refer to it.
	if a.ID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		a.ID = id
	}
	x := flow.NewExecution(flow.Origin{ActiveflowID: a.ID, FlowID: r.FlowID, Revision: revision,
		ReferenceType: a.ReferenceType, ReferenceID: r.ReferenceID, Runner: r.RunnerVariables}, actions, r.Variables)
	out := s.sender(r.CustomerID, nil)
	step, err := s.engine(r.CustomerID, nil, out).Start(pool, x)
	if err != nil {
		return nil, err
	}
	a.State = store.State{Execution: *x}
	if err := s.commit(ctx, out, &change{a: a, create: true, event: EventCreated, step: step}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, &ExistsError{ID: a.ID}
		}
		return nil, err
	}
	return a, nil
}

// Next records that the runner finished the activeflow's current action (r names it, and may name its step),
// merges the variables it reports, runs on to the next runner action or the end, and writes the activeflow with
// its events. A report of another action or step, or one that lost a race with another report, is a
// *StaleError; a report to an ended activeflow an *EndedError; variables past the limits a *flow.LimitError.
//
// What the step sends out (a sync webhook_send, a fetch, also in the activeflows its end starts) is sent once: the
// report claims the step before the first request leaves (store.ClaimActiveflow), and a report that finds the step
// claimed, or loses the claim, performs nothing and is a *StaleError.
func (s *Service) Next(ctx context.Context, customerID, id uuid.UUID, r flow.RunnerReport) (*store.Activeflow, error) {
	pool := store.Outside(ctx)
	a, err := s.store.GetActiveflow(pool, customerID, id)
	if err != nil {
		return nil, err
	}
	if !a.State.Ended && a.Claimed(s.store.Now()) {
		return nil, &StaleError{ActionID: r.ActionID, Step: r.Step} // another report performs this step now
	}
	out := s.sender(a.CustomerID, a)
	defer s.release(ctx, a)
	step, err := s.engine(customerID, nil, out).Next(pool, &a.State.Execution, r)
	switch {
	case errors.Is(err, flow.ErrEnded):
		return nil, &EndedError{EndReason: a.State.EndReason}
	case errors.Is(err, flow.ErrStaleAction):
		return nil, &StaleError{ActionID: r.ActionID, Step: r.Step, Current: a.State.Current}
	case errors.Is(err, store.ErrStale):
		return nil, &StaleError{ActionID: r.ActionID, Step: r.Step}
	case err != nil:
		return nil, err
	}
	if err := s.commit(ctx, out, &change{a: a, event: EventUpdated, step: step}); err != nil {
		if errors.Is(err, store.ErrStale) {
			return nil, &StaleError{ActionID: r.ActionID, Step: r.Step}
		}
		return nil, err
	}
	return a, nil
}

// Stop ends a running activeflow (stopped) and writes it with its events; an ended one is answered as it is. One
// that changed meanwhile is a *StaleError.
func (s *Service) Stop(ctx context.Context, customerID, id uuid.UUID) (*store.Activeflow, error) {
	return s.StopFor(ctx, customerID, id, flow.EndStopped)
}

// StopFor is Stop with another end reason: a call's runner ends its activeflow with hangup when the call ends
// first.
func (s *Service) StopFor(ctx context.Context, customerID, id uuid.UUID, reason string) (*store.Activeflow, error) {
	a, err := s.store.GetActiveflow(store.Outside(ctx), customerID, id)
	if err != nil {
		return nil, err
	}
	if a.State.Ended {
		return a, nil
	}
	step := a.State.StopFor(reason)
	defer s.release(ctx, a)
	if err := s.commit(ctx, s.sender(a.CustomerID, a), &change{a: a, event: EventUpdated, step: step}); err != nil {
		return nil, stale(err)
	}
	return a, nil
}

// Delete stops an activeflow if it runs, and deletes it, with its events.
func (s *Service) Delete(ctx context.Context, customerID, id uuid.UUID) error {
	a, err := s.store.GetActiveflow(store.Outside(ctx), customerID, id)
	if err != nil {
		return err
	}
	step := a.State.Stop()
	now := s.store.Now()
	a.TMDelete = &now
	defer s.release(ctx, a)
	if err := s.commit(ctx, s.sender(a.CustomerID, a), &change{a: a, event: EventDeleted, step: step}); err != nil {
		return stale(err)
	}
	return nil
}

// release lets go of a claim a change took and did not write (the write failed, or the request ended first), so
// that the runner's retry need not wait for it to pass; a written change holds none.
func (s *Service) release(ctx context.Context, a *store.Activeflow) {
	if a.HoldsClaim() {
		_ = s.store.ReleaseActiveflow(store.Outside(context.WithoutCancel(ctx)), a)
	}
}

// stale is a change that lost a race with a runner.
func stale(err error) error {
	if errors.Is(err, store.ErrStale) {
		return &StaleError{}
	}
	return err
}

// commit writes a change and, when its activeflow ended, what its end starts (on_complete_flow_id), and counts
// them once written. The activeflows it starts send out through out, under the change's claim.
func (s *Service) commit(ctx context.Context, out *sender, c *change) error {
	next, err := s.completeChain(store.Outside(ctx), out, c.a)
	if err != nil {
		return err
	}
	all := append([]*change{c}, next...)
	if err := s.write(ctx, all...); err != nil {
		return err
	}
	for _, c := range all {
		s.count(c)
	}
	return nil
}
