package server

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

// checkFlow decodes and validates a flow definition, including its references to other flows of the caller.
func (s *Server) checkFlow(ctx context.Context, customerID uuid.UUID, raw []byte) (*flow.Definition, *flow.Report, error) {
	live := func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
		return s.store.LiveFlowIDs(ctx, customerID, ids)
	}
	return flow.Validate(ctx, raw, flow.Limits{MaxActions: s.cfg.MaxActions}, live)
}

// validDefinition is checkFlow for writes: a definition with errors is an *flow.InvalidError.
func (s *Server) validDefinition(ctx context.Context, customerID uuid.UUID, raw []byte) (*flow.Definition, error) {
	def, rep, err := s.checkFlow(ctx, customerID, raw)
	if err != nil {
		return nil, err
	}
	if err := rep.Err(); err != nil {
		return nil, err
	}
	return def, nil
}

// ListFlows answers one page of the caller's flows.
func (s *Server) ListFlows(ctx context.Context, req gen.ListFlowsRequestObject) (gen.ListFlowsResponseObject, error) {
	page, err := toPage(req.Params.PageSize, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	flows, err := s.store.ListFlows(ctx, principalFrom(ctx).CustomerID, page)
	if err != nil {
		return nil, err
	}
	return gen.ListFlows200JSONResponse{
		Result:        toAPIFlows(flows),
		NextPageToken: nextPageToken(flows, func(f *store.Flow) time.Time { return f.TMCreate }),
	}, nil
}

// CreateFlow stores a new flow.
func (s *Server) CreateFlow(ctx context.Context, req gen.CreateFlowRequestObject) (gen.CreateFlowResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	def, err := s.validDefinition(ctx, customerID, *req.Body)
	if err != nil {
		return nil, err
	}
	f, err := s.store.CreateFlow(ctx, customerID, def)
	if err != nil {
		return nil, err
	}
	return gen.CreateFlow200JSONResponse{FlowJSONResponse: gen.FlowJSONResponse(toAPIFlow(f))}, nil
}

// ValidateFlow reports every problem of a flow definition without storing anything.
func (s *Server) ValidateFlow(ctx context.Context, req gen.ValidateFlowRequestObject) (gen.ValidateFlowResponseObject, error) {
	_, rep, err := s.checkFlow(ctx, principalFrom(ctx).CustomerID, *req.Body)
	if err != nil {
		return nil, err
	}
	return gen.ValidateFlow200JSONResponse{
		Valid:    rep.Valid(),
		Errors:   toAPIProblems(rep.Errors),
		Warnings: toAPIProblems(rep.Warnings),
	}, nil
}

// GetFlow answers one of the caller's flows.
func (s *Server) GetFlow(ctx context.Context, req gen.GetFlowRequestObject) (gen.GetFlowResponseObject, error) {
	f, err := s.store.GetFlow(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetFlow200JSONResponse{FlowJSONResponse: gen.FlowJSONResponse(toAPIFlow(f))}, nil
}

// UpdateFlow replaces a flow's definition.
func (s *Server) UpdateFlow(ctx context.Context, req gen.UpdateFlowRequestObject) (gen.UpdateFlowResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	def, err := s.validDefinition(ctx, customerID, *req.Body)
	if err != nil {
		return nil, err
	}
	f, err := s.store.UpdateFlow(ctx, customerID, req.Id, def)
	if err != nil {
		return nil, err
	}
	return gen.UpdateFlow200JSONResponse{FlowJSONResponse: gen.FlowJSONResponse(toAPIFlow(f))}, nil
}

// DeleteFlow soft-deletes a flow.
func (s *Server) DeleteFlow(ctx context.Context, req gen.DeleteFlowRequestObject) (gen.DeleteFlowResponseObject, error) {
	if err := s.store.DeleteFlow(ctx, principalFrom(ctx).CustomerID, req.Id); err != nil {
		return nil, err
	}
	return gen.DeleteFlow204Response{}, nil
}
