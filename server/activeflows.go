package server

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/activeflow"
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

// newActiveflows makes the activeflow use case the handlers below call.
func (s *Server) newActiveflows() *activeflow.Service {
	return activeflow.New(activeflow.Config{Store: s.store, Outbound: s.cfg.Outbound, Metrics: s.metrics, Limits: s.limits(),
		WakeDeliverer: s.cfg.WakeDeliverer, ClaimLease: 2 * s.cfg.RequestTimeout, Secrets: s.WebhookSecret,
		Flow: s.cachedFlow})
}

// parseStart decodes and validates a request that runs actions.
func (s *Server) parseStart(ctx context.Context, customerID uuid.UUID, raw []byte, kind flow.StartKind) (*flow.Start, error) {
	live := func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
		return s.liveFlowIDs(ctx, customerID, ids)
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
	a, err := s.activeflows.Start(ctx, activeflow.StartRequest{CustomerID: customerID, ID: st.ID, FlowID: st.FlowID,
		Actions: st.Actions, Variables: st.Variables, OnCompleteFlowID: st.OnCompleteFlowID,
		WebhookURI: st.WebhookURI, WebhookMethod: st.WebhookMethod,
		ReferenceType: st.ReferenceType, ReferenceID: st.ReferenceID})
	if err != nil {
		return nil, err
	}
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
	if err := s.store.LoadActiveflowHistory(ctx, a); err != nil {
		return nil, err
	}
	return gen.GetActiveflow200JSONResponse{ActiveflowJSONResponse: gen.ActiveflowJSONResponse(toAPIActiveflow(a))}, nil
}

// StopActiveflow ends a running activeflow (stopped, or hangup when its runner reports that its call hung up); an
// ended one stays as it is.
func (s *Server) StopActiveflow(ctx context.Context, req gen.StopActiveflowRequestObject) (gen.StopActiveflowResponseObject, error) {
	reason := flow.EndStopped
	if req.Body != nil && req.Body.Reason != nil && *req.Body.Reason == gen.ActiveflowStopReasonHangup {
		reason = flow.EndHangup // the call it runs on hung up, reported by its runner
	}
	a, err := s.activeflows.StopFor(ctx, principalFrom(ctx).CustomerID, req.Id, reason)
	if err != nil {
		return nil, err
	}
	if err := s.store.LoadActiveflowHistory(ctx, a); err != nil {
		return nil, err
	}
	return gen.StopActiveflow200JSONResponse{ActiveflowJSONResponse: gen.ActiveflowJSONResponse(toAPIActiveflow(a))}, nil
}

// DeleteActiveflow stops an activeflow if it runs, and deletes it.
func (s *Server) DeleteActiveflow(ctx context.Context, req gen.DeleteActiveflowRequestObject) (gen.DeleteActiveflowResponseObject, error) {
	if err := s.activeflows.Delete(ctx, principalFrom(ctx).CustomerID, req.Id); err != nil {
		return nil, err
	}
	return gen.DeleteActiveflow204Response{}, nil
}

// NextActiveflowAction records that the runner finished the current action and runs on to the next.
func (s *Server) NextActiveflowAction(ctx context.Context, req gen.NextActiveflowActionRequestObject) (gen.NextActiveflowActionResponseObject, error) {
	report := flow.RunnerReport{ActionID: req.Body.CurrentActionId}
	if req.Body.Step != nil {
		report.Step = *req.Body.Step
	}
	if req.Body.Variables != nil {
		report.Variables = *req.Body.Variables
	}
	a, err := s.activeflows.Next(ctx, principalFrom(ctx).CustomerID, req.Id, report)
	if err != nil {
		return nil, err
	}
	return gen.NextActiveflowAction200JSONResponse{ActiveflowSteppedJSONResponse: gen.ActiveflowSteppedJSONResponse(toAPIActiveflow(stepped(a, report)))}, nil
}

// simulate runs actions to their end with a scripted runner, storing nothing.
func (s *Server) simulate(ctx context.Context, customerID, flowID uuid.UUID, revision int, actions []flow.Action,
	st *flow.Start) (gen.SimulationJSONResponse, error) {
	x, err := s.activeflows.Simulate(ctx, activeflow.SimulateRequest{CustomerID: customerID, FlowID: flowID, Revision: revision,
		Actions: actions, Variables: st.Variables, Script: flow.Script{Digits: st.Digits, Steps: st.Steps}, Now: st.Now,
		WebhookResponses: st.WebhookResponses})
	if err != nil {
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
