package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

const (
	reasonStaleAction     = "STALE_ACTION"
	reasonActiveflowEnded = "ACTIVEFLOW_ENDED"
)

// limits are the bounds of every execution and of every definition it runs.
func (s *Server) limits() flow.Limits {
	lim := s.cfg.Execution
	lim.MaxActions = s.cfg.MaxActions
	return lim
}

// engine is the execution engine for a customer: fetch_flow reads the customer's flows, at their current
// revision; the clock is the store's.
// webhook_send and fetch go through the guarded outbound client; fx collects what waits for the outbox.
func (s *Server) engine(customerID uuid.UUID, now func() time.Time, fx *effects) *flow.Engine {
	if now == nil {
		now = s.store.Now
	}
	return &flow.Engine{
		Limits:  s.limits(),
		Now:     now,
		Webhook: s.webhook(fx),
		Fetch:   s.fetch,
		Flows: func(ctx context.Context, id uuid.UUID) ([]flow.Action, int, error) {
			f, err := s.store.GetFlow(ctx, customerID, id)
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

// parseStart decodes and validates a request that runs actions.
func (s *Server) parseStart(ctx context.Context, customerID uuid.UUID, raw []byte, kind flow.StartKind) (*flow.Start, error) {
	live := func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
		return s.store.LiveFlowIDs(ctx, customerID, ids)
	}
	lim := s.limits()
	lim.Fields = fieldsFrom(ctx)
	st, rep, err := flow.ParseStart(ctx, raw, lim, kind, live)
	if err != nil {
		return nil, err
	}
	if err := rep.Err(); err != nil {
		return nil, err
	}
	warn(ctx, rep.Warnings, rep.WarningsNotListed)
	return st, nil
}

// CreateActiveflow starts an execution of a flow's current revision, or of inline actions.
func (s *Server) CreateActiveflow(ctx context.Context, req gen.CreateActiveflowRequestObject) (gen.CreateActiveflowResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	st, err := s.parseStart(ctx, customerID, *req.Body, flow.StartActiveflow)
	if err != nil {
		return nil, err
	}
	a := &store.Activeflow{CustomerID: customerID, WebhookURI: st.WebhookURI, WebhookMethod: st.WebhookMethod}
	actions, revision := st.Actions, 0
	if st.FlowID != uuid.Nil {
		f, err := s.store.GetFlow(ctx, customerID, st.FlowID)
		if err != nil {
			return nil, err
		}
		actions, revision = f.Actions, f.Revision
		a.FlowID, a.FlowRevision, a.OnCompleteFlowID = &f.ID, &revision, f.OnCompleteFlowID
	}
	if st.OnCompleteFlowID != uuid.Nil {
		a.OnCompleteFlowID = &st.OnCompleteFlowID
	}
	// The id goes into the variables before the first advance: options may refer to it.
	a.ID = st.ID
	if a.ID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		a.ID = id
	}
	x := flow.NewExecution(flow.Origin{ActiveflowID: a.ID, FlowID: st.FlowID, Revision: revision}, actions, st.Variables)
	fx := &effects{}
	if err := s.engine(customerID, nil, fx).Start(ctx, x); err != nil {
		return nil, err
	}
	a.State = store.State{Execution: *x}
	if err := s.end(ctx, change{a: a, create: true, event: eventCreated, queued: fx.queued}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, newError(http.StatusConflict, statusAlreadyExists, reasonAlreadyExists, "activeflow %s already exists", a.ID)
		}
		return nil, err
	}
	s.metrics.ActiveflowsStarted.Inc()
	s.observeExecution(executionMark{}, x)
	return gen.CreateActiveflow200JSONResponse{ActiveflowJSONResponse: gen.ActiveflowJSONResponse(toAPIActiveflow(a))}, nil
}

// end writes a change and, when its activeflow ended, what its end starts (on_complete_flow_id).
func (s *Server) end(ctx context.Context, c change) error {
	next, err := s.completeChain(ctx, c.a)
	if err != nil {
		return err
	}
	if err := s.write(ctx, append([]change{c}, next...)...); err != nil {
		return err
	}
	for _, n := range next {
		s.metrics.ActiveflowsStarted.Inc()
		s.observeExecution(executionMark{}, &n.a.State.Execution)
	}
	return nil
}

// ListActiveflows answers one page of the caller's activeflows.
func (s *Server) ListActiveflows(ctx context.Context, req gen.ListActiveflowsRequestObject) (gen.ListActiveflowsResponseObject, error) {
	page, err := toPage(req.Params.PageSize, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	list, err := s.store.ListActiveflows(ctx, principalFrom(ctx).CustomerID, page)
	if err != nil {
		return nil, err
	}
	out := gen.ListActiveflows200JSONResponse{Result: make([]gen.Activeflow, len(list)),
		NextPageToken: nextPageToken(list, func(a *store.Activeflow) time.Time { return a.TMCreate })}
	for i := range list {
		out.Result[i] = toAPIActiveflow(&list[i])
	}
	return out, nil
}

// GetActiveflow answers one of the caller's activeflows.
func (s *Server) GetActiveflow(ctx context.Context, req gen.GetActiveflowRequestObject) (gen.GetActiveflowResponseObject, error) {
	a, err := s.store.GetActiveflow(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetActiveflow200JSONResponse{ActiveflowJSONResponse: gen.ActiveflowJSONResponse(toAPIActiveflow(a))}, nil
}

// StopActiveflow ends a running activeflow; an ended one stays as it is.
func (s *Server) StopActiveflow(ctx context.Context, req gen.StopActiveflowRequestObject) (gen.StopActiveflowResponseObject, error) {
	a, err := s.store.GetActiveflow(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	if !a.State.Ended {
		before := mark(&a.State.Execution)
		a.State.Stop()
		if err := s.end(ctx, change{a: a, event: eventUpdated}); err != nil {
			return nil, staleActiveflow(err)
		}
		s.observeExecution(before, &a.State.Execution)
	}
	return gen.StopActiveflow200JSONResponse{ActiveflowJSONResponse: gen.ActiveflowJSONResponse(toAPIActiveflow(a))}, nil
}

// DeleteActiveflow stops an activeflow if it runs, and deletes it.
func (s *Server) DeleteActiveflow(ctx context.Context, req gen.DeleteActiveflowRequestObject) (gen.DeleteActiveflowResponseObject, error) {
	a, err := s.store.GetActiveflow(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	before := mark(&a.State.Execution)
	a.State.Stop()
	now := s.store.Now()
	a.TMDelete = &now
	if err := s.end(ctx, change{a: a, event: eventDeleted}); err != nil {
		return nil, staleActiveflow(err)
	}
	s.observeExecution(before, &a.State.Execution)
	return gen.DeleteActiveflow204Response{}, nil
}

// NextActiveflowAction records that the runner finished the current action and runs on to the next.
func (s *Server) NextActiveflowAction(ctx context.Context, req gen.NextActiveflowActionRequestObject) (gen.NextActiveflowActionResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	a, err := s.store.GetActiveflow(ctx, customerID, req.Id)
	if err != nil {
		return nil, err
	}
	report := flow.RunnerReport{ActionID: req.Body.CurrentActionId}
	if req.Body.Step != nil {
		report.Step = *req.Body.Step
	}
	if req.Body.Variables != nil {
		report.Variables = *req.Body.Variables
	}
	fx := &effects{}
	before := mark(&a.State.Execution)
	switch err := s.engine(customerID, nil, fx).Next(ctx, &a.State.Execution, report); {
	case errors.Is(err, flow.ErrEnded):
		return nil, newError(http.StatusConflict, statusFailedPrecondition, reasonActiveflowEnded,
			"the activeflow has ended (%s)", a.State.EndReason)
	case errors.Is(err, flow.ErrStaleAction):
		return nil, staleReport(report, a.State.Current)
	case err != nil:
		return nil, err
	}
	if err := s.end(ctx, change{a: a, event: eventUpdated, queued: fx.queued}); err != nil {
		if errors.Is(err, store.ErrStale) {
			return nil, staleReport(report, nil)
		}
		return nil, err
	}
	s.observeExecution(before, &a.State.Execution)
	return gen.NextActiveflowAction200JSONResponse{ActiveflowJSONResponse: gen.ActiveflowJSONResponse(toAPIActiveflow(a))}, nil
}

// staleReport answers a report of an action or step that is not the current one (cur, when known).
func staleReport(r flow.RunnerReport, cur *flow.Executed) error {
	what := fmt.Sprintf("action %s", r.ActionID)
	if r.Step != 0 {
		what = fmt.Sprintf("step %d (action %s)", r.Step, r.ActionID)
	}
	if cur != nil {
		return newError(http.StatusConflict, statusFailedPrecondition, reasonStaleAction,
			"%s is not the current action of the activeflow, which is step %d (action %s): it has moved on", what, cur.Step, cur.ID)
	}
	return newError(http.StatusConflict, statusFailedPrecondition, reasonStaleAction,
		"%s is not the current action of the activeflow: another runner advanced it", what)
}

// staleActiveflow is a save that lost a race with a runner.
func staleActiveflow(err error) error {
	if errors.Is(err, store.ErrStale) {
		return newError(http.StatusConflict, statusFailedPrecondition, reasonStaleAction,
			"the activeflow changed meanwhile; retry")
	}
	return err
}

// simulate runs an ephemeral execution to its end, as an activeflow would run with a runner following the
// script: the same variables (a fresh voipbin.activeflow.id), the same limits, the same engine path.
func (s *Server) simulate(ctx context.Context, customerID uuid.UUID, flowID uuid.UUID, revision int, actions []flow.Action,
	st *flow.Start) (gen.SimulationJSONResponse, error) {
	var clock func() time.Time
	if !st.Now.IsZero() {
		now := st.Now
		clock = func() time.Time { return now }
	}
	id, err := uuid.NewV7()
	if err != nil {
		return gen.SimulationJSONResponse{}, err
	}
	x := flow.NewExecution(flow.Origin{ActiveflowID: id, FlowID: flowID, Revision: revision}, actions, st.Variables)
	if err := s.engine(customerID, clock, &effects{simulation: true}).Simulate(ctx, x, flow.Script{Digits: st.Digits, Steps: st.Steps}); err != nil {
		return gen.SimulationJSONResponse{}, err
	}
	out := gen.SimulationJSONResponse{EndReason: x.EndReason, ExecutedActions: toAPIExecutedList(x.Executed), Variables: x.Variables}
	if flowID != uuid.Nil {
		out.FlowId, out.FlowRevision = &flowID, &revision
	}
	return out, nil
}

// SimulateFlow runs a flow's current revision to its end with a scripted runner, storing nothing.
func (s *Server) SimulateFlow(ctx context.Context, req gen.SimulateFlowRequestObject) (gen.SimulateFlowResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	f, err := s.store.GetFlow(ctx, customerID, req.Id)
	if err != nil {
		return nil, err
	}
	st, err := s.parseStart(ctx, customerID, *req.Body, flow.StartScript)
	if err != nil {
		return nil, err
	}
	res, err := s.simulate(ctx, customerID, f.ID, f.Revision, f.Actions, st)
	if err != nil {
		return nil, err
	}
	return gen.SimulateFlow200JSONResponse{SimulationJSONResponse: res}, nil
}

// SimulateActions runs inline actions to their end with a scripted runner, storing nothing.
func (s *Server) SimulateActions(ctx context.Context, req gen.SimulateActionsRequestObject) (gen.SimulateActionsResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	st, err := s.parseStart(ctx, customerID, *req.Body, flow.StartSimulation)
	if err != nil {
		return nil, err
	}
	res, err := s.simulate(ctx, customerID, uuid.Nil, 0, st.Actions, st)
	if err != nil {
		return nil, err
	}
	return gen.SimulateActions200JSONResponse{SimulationJSONResponse: res}, nil
}
