package server

import (
	"context"
	"errors"
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

// engine is the execution engine for a customer: fetch_flow reads the customer's flows, at their current
// revision; the clock is the store's.
func (s *Server) engine(customerID uuid.UUID, now func() time.Time) *flow.Engine {
	if now == nil {
		now = s.store.Now
	}
	return &flow.Engine{
		MaxExecuted:     s.cfg.MaxExecutedActions,
		MaxControlSteps: s.cfg.MaxControlSteps,
		Now:             now,
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
	st, rep, err := flow.ParseStart(ctx, raw, flow.Limits{MaxActions: s.cfg.MaxActions}, kind, live)
	if err != nil {
		return nil, err
	}
	return st, rep.Err()
}

// CreateActiveflow starts an execution of a flow's current revision, or of inline actions.
func (s *Server) CreateActiveflow(ctx context.Context, req gen.CreateActiveflowRequestObject) (gen.CreateActiveflowResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	st, err := s.parseStart(ctx, customerID, *req.Body, flow.StartActiveflow)
	if err != nil {
		return nil, err
	}
	a := &store.Activeflow{CustomerID: customerID}
	actions, revision := st.Actions, 0
	if st.FlowID != uuid.Nil {
		f, err := s.store.GetFlow(ctx, customerID, st.FlowID)
		if err != nil {
			return nil, err
		}
		actions, revision = f.Actions, f.Revision
		a.FlowID, a.FlowRevision = &f.ID, &revision
	}
	x := flow.NewExecution(st.FlowID, revision, actions, st.Variables)
	// The id goes into the variables before the first advance: options may refer to it.
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	a.ID = id
	x.Variables[flow.VarActiveflowID] = id.String()
	if err := s.engine(customerID, nil).Start(ctx, x); err != nil {
		return nil, err
	}
	a.State = store.State{Execution: *x}
	if err := s.store.CreateActiveflow(ctx, a); err != nil {
		return nil, err
	}
	s.metrics.ActiveflowsStarted.Inc()
	s.observeExecution(executionMark{}, x)
	return gen.CreateActiveflow200JSONResponse{ActiveflowJSONResponse: gen.ActiveflowJSONResponse(toAPIActiveflow(a))}, nil
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
		if err := s.store.SaveActiveflow(ctx, a); err != nil {
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
	if err := s.store.SaveActiveflow(ctx, a); err != nil {
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
	vars := map[string]string{}
	if req.Body.Variables != nil {
		vars = *req.Body.Variables
	}
	before := mark(&a.State.Execution)
	switch err := s.engine(customerID, nil).Next(ctx, &a.State.Execution, req.Body.CurrentActionId, vars); {
	case errors.Is(err, flow.ErrEnded):
		return nil, newError(http.StatusConflict, statusFailedPrecondition, reasonActiveflowEnded,
			"the activeflow has ended (%s)", a.State.EndReason)
	case errors.Is(err, flow.ErrStaleAction):
		return nil, staleAction(req.Body.CurrentActionId)
	case err != nil:
		return nil, err
	}
	if err := s.store.SaveActiveflow(ctx, a); err != nil {
		if errors.Is(err, store.ErrStale) {
			return nil, staleAction(req.Body.CurrentActionId)
		}
		return nil, err
	}
	s.observeExecution(before, &a.State.Execution)
	return gen.NextActiveflowAction200JSONResponse{ActiveflowJSONResponse: gen.ActiveflowJSONResponse(toAPIActiveflow(a))}, nil
}

func staleAction(id uuid.UUID) error {
	return newError(http.StatusConflict, statusFailedPrecondition, reasonStaleAction,
		"action %s is not the current action of the activeflow: another runner advanced it", id)
}

// staleActiveflow is a save that lost a race with a runner.
func staleActiveflow(err error) error {
	if errors.Is(err, store.ErrStale) {
		return newError(http.StatusConflict, statusFailedPrecondition, reasonStaleAction,
			"the activeflow changed meanwhile; retry")
	}
	return err
}

// simulate runs an ephemeral execution to its end.
func (s *Server) simulate(ctx context.Context, customerID uuid.UUID, flowID uuid.UUID, revision int, actions []flow.Action,
	vars map[string]string, digits []string, now time.Time) (gen.SimulationJSONResponse, error) {
	var clock func() time.Time
	if !now.IsZero() {
		clock = func() time.Time { return now }
	}
	x := flow.NewExecution(flowID, revision, actions, vars)
	if err := s.engine(customerID, clock).Simulate(ctx, x, flow.Script{Digits: digits}); err != nil {
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
	var vars map[string]string
	if req.Body.Variables != nil {
		vars = *req.Body.Variables
	}
	var digits []string
	if req.Body.Digits != nil {
		digits = *req.Body.Digits
	}
	var now time.Time
	if req.Body.Now != nil && *req.Body.Now != "" {
		if now, err = time.ParseInLocation(timeLayout, *req.Body.Now, time.UTC); err != nil {
			return nil, badRequest(reasonInvalidBody, "now: %q is not a timestamp like 2026-11-23 08:30:00.000000", *req.Body.Now)
		}
	}
	res, err := s.simulate(ctx, customerID, f.ID, f.Revision, f.Actions, vars, digits, now)
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
	res, err := s.simulate(ctx, customerID, uuid.Nil, 0, st.Actions, st.Variables, st.Digits, st.Now)
	if err != nil {
		return nil, err
	}
	return gen.SimulateActions200JSONResponse{SimulationJSONResponse: res}, nil
}
