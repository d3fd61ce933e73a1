package server

import (
	"context"

	"github.com/flowbin/flowbin/gen"
)

// RegenerateFlowDirectHash gives a flow a new direct hash: SIP calls to user direct.<hex> run it.
func (s *Server) RegenerateFlowDirectHash(ctx context.Context, req gen.RegenerateFlowDirectHashRequestObject) (gen.RegenerateFlowDirectHashResponseObject, error) {
	f, err := s.store.RegenerateDirectHash(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	tag := etag(f.Revision)
	return gen.RegenerateFlowDirectHash200JSONResponse{FlowJSONResponse: gen.FlowJSONResponse{
		Body: toAPIFlow(f), Headers: gen.FlowResponseHeaders{ETag: &tag}}}, nil
}
