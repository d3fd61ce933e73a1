package server

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

// checkFlow decodes and validates a flow definition, including its references to other flows of the caller.
// flowID is the flow being written (its labels' namespace), or uuid.Nil. Unknown fields are read as the request's
// field validation mode says.
func (s *Server) checkFlow(ctx context.Context, customerID, flowID uuid.UUID, raw []byte) (*flow.Definition, *flow.Report, error) {
	live := func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
		return s.store.LiveFlowIDs(ctx, customerID, ids)
	}
	lim := flow.Limits{MaxActions: s.cfg.MaxActions, Namespace: flowID, Fields: fieldsFrom(ctx)}
	return flow.Validate(ctx, raw, lim, live)
}

// validDefinition is checkFlow for writes: a definition with errors is an *flow.InvalidError; the warnings go
// into the answer's Warning headers and are returned for its body.
func (s *Server) validDefinition(ctx context.Context, customerID, flowID uuid.UUID, raw []byte) (*flow.Definition, []flow.Problem, error) {
	def, rep, err := s.checkFlow(ctx, customerID, flowID, raw)
	if err != nil {
		return nil, nil, err
	}
	if err := rep.Err(); err != nil {
		return nil, nil, err
	}
	warn(ctx, rep.Warnings, rep.WarningsNotListed)
	return def, rep.Warnings, nil
}

// writtenResponse is a written flow with its ETag and the warnings of its validation.
func writtenResponse(f *store.Flow, warnings []flow.Problem) gen.FlowWrittenJSONResponse {
	tag := etag(f.Revision)
	body := toAPIFlow(f)
	if len(warnings) > 0 {
		w := toAPIProblems(warnings)
		body.Warnings = &w
	}
	return gen.FlowWrittenJSONResponse{Body: body, Headers: gen.FlowWrittenResponseHeaders{ETag: &tag}}
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
		Result:        convertAll(flows, toAPIFlow),
		NextPageToken: nextPageToken(flows, func(f *store.Flow) time.Time { return f.TMCreate }),
	}, nil
}

// CreateFlow stores a new flow, at revision 1. Its id is chosen first: it is the namespace of its labels.
func (s *Server) CreateFlow(ctx context.Context, req gen.CreateFlowRequestObject) (gen.CreateFlowResponseObject, error) {
	p := principalFrom(ctx)
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	def, warnings, err := s.validDefinition(ctx, p.CustomerID, id, *req.Body)
	if err != nil {
		return nil, err
	}
	f, err := s.store.CreateFlow(ctx, p.CustomerID, def, author(p))
	if err != nil {
		return nil, err
	}
	return gen.CreateFlow200JSONResponse{FlowWrittenJSONResponse: writtenResponse(f, warnings)}, nil
}

// ValidateFlow reports every problem of a flow definition without storing anything.
func (s *Server) ValidateFlow(ctx context.Context, req gen.ValidateFlowRequestObject) (gen.ValidateFlowResponseObject, error) {
	_, rep, err := s.checkFlow(ctx, principalFrom(ctx).CustomerID, uuid.Nil, *req.Body)
	if err != nil {
		return nil, err
	}
	if rep.Malformed() {
		return nil, rep.Err() // not a flow definition with problems, but no definition at all: a bad request
	}
	return gen.ValidateFlow200JSONResponse{
		Valid:    rep.Valid(),
		Errors:   toAPIProblems(rep.Errors),
		Warnings: toAPIProblems(rep.Warnings),
		// At most flow.MaxProblems each: int32 holds the rest of any body the server accepts.
		ErrorsNotListed:   int32(rep.ErrorsNotListed),
		WarningsNotListed: int32(rep.WarningsNotListed),
	}, nil
}

// GetFlow answers one of the caller's flows, or 304 when the client's copy is current.
func (s *Server) GetFlow(ctx context.Context, req gen.GetFlowRequestObject) (gen.GetFlowResponseObject, error) {
	f, err := s.cachedAnswer(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	if req.Params.IfNoneMatch != nil && noneMatch(*req.Params.IfNoneMatch, f.revision) {
		return gen.GetFlow304Response{Headers: gen.NotModifiedResponseHeaders{ETag: &f.etag}}, nil
	}
	return flowAnswer{f}, nil
}

// cachedAnswer is the encoded answer to GET of a live flow of the customer: from the cache, or read and then cached.
func (s *Server) cachedAnswer(ctx context.Context, customerID, id uuid.UUID) (*cachedFlow, error) {
	c, ticket, ok := s.cache.get(id)
	if ok && c.customer == customerID {
		s.cacheCounts.hit.Inc()
		return c, nil
	}
	if s.FlowCacheLive() {
		s.cacheCounts.miss.Inc()
	} else {
		s.cacheCounts.bypass.Inc()
	}
	f, err := s.store.GetFlow(ctx, customerID, id)
	if err != nil {
		return nil, err
	}
	encoded, err := json.Marshal(toAPIFlow(f))
	if err != nil {
		return nil, err
	}
	// What the generated response would write (json.Encoder: the value and a newline), in a slice of its own size.
	body := make([]byte, len(encoded)+1)
	copy(body, encoded)
	body[len(encoded)] = '\n'
	c = &cachedFlow{id: f.ID, customer: f.CustomerID, revision: f.Revision, etag: etag(f.Revision), body: body}
	s.cache.put(c, ticket)
	return c, nil
}

// UpdateFlow replaces a flow's definition, as a new revision; with If-Match, only if nobody changed it since.
func (s *Server) UpdateFlow(ctx context.Context, req gen.UpdateFlowRequestObject) (gen.UpdateFlowResponseObject, error) {
	p := principalFrom(ctx)
	m, err := s.ifMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	def, warnings, err := s.validDefinition(ctx, p.CustomerID, req.Id, *req.Body)
	if err != nil {
		return nil, err
	}
	f, err := s.store.UpdateFlow(ctx, p.CustomerID, req.Id, def, author(p), m)
	if err != nil {
		return nil, err
	}
	return gen.UpdateFlow200JSONResponse{FlowWrittenJSONResponse: writtenResponse(f, warnings)}, nil
}

// DeleteFlow soft-deletes a flow; with If-Match, only if nobody changed it since.
func (s *Server) DeleteFlow(ctx context.Context, req gen.DeleteFlowRequestObject) (gen.DeleteFlowResponseObject, error) {
	m, err := s.ifMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteFlow(ctx, principalFrom(ctx).CustomerID, req.Id, m); err != nil {
		return nil, err
	}
	return gen.DeleteFlow204Response{}, nil
}

// ListFlowRevisions answers one page of a flow's revisions, newest first.
func (s *Server) ListFlowRevisions(ctx context.Context, req gen.ListFlowRevisionsRequestObject) (gen.ListFlowRevisionsResponseObject, error) {
	size, before := store.MaxPageSize, 0
	if req.Params.PageSize != nil && *req.Params.PageSize > 0 { // 0: the default
		size = min(*req.Params.PageSize, store.MaxPageSize)
	}
	if req.Params.PageToken != nil && *req.Params.PageToken != "" {
		n, err := strconv.Atoi(*req.Params.PageToken)
		if err != nil || n < 1 {
			return nil, badParameter("page_token", "%q is not a revision number", *req.Params.PageToken)
		}
		before = n
	}
	revs, err := s.store.ListFlowRevisions(ctx, principalFrom(ctx).CustomerID, req.Id, size, before)
	if err != nil {
		return nil, err
	}
	out := gen.ListFlowRevisions200JSONResponse{Result: convertAll(revs, toAPIRevision)}
	if len(revs) > 0 {
		out.NextPageToken = strconv.Itoa(revs[len(revs)-1].Revision)
	}
	return out, nil
}

// GetFlowRevision answers one revision of a flow.
func (s *Server) GetFlowRevision(ctx context.Context, req gen.GetFlowRevisionRequestObject) (gen.GetFlowRevisionResponseObject, error) {
	r, err := s.store.GetFlowRevision(ctx, principalFrom(ctx).CustomerID, req.Id, int(req.Revision))
	if err != nil {
		return nil, err
	}
	return gen.GetFlowRevision200JSONResponse(toAPIRevision(r)), nil
}

// RestoreFlowRevision makes an old revision current again, as a new revision. It is an update whose body is the
// old revision, validated again: the flows it refers to must still exist.
func (s *Server) RestoreFlowRevision(ctx context.Context, req gen.RestoreFlowRevisionRequestObject) (gen.RestoreFlowRevisionResponseObject, error) {
	p := principalFrom(ctx)
	m, err := s.ifMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	r, err := s.store.GetFlowRevision(ctx, p.CustomerID, req.Id, int(req.Revision))
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(revisionDocument(r))
	if err != nil {
		return nil, err
	}
	def, warnings, err := s.validDefinition(ctx, p.CustomerID, req.Id, doc)
	if err != nil {
		return nil, err
	}
	f, err := s.store.UpdateFlow(ctx, p.CustomerID, req.Id, def, author(p), m)
	if err != nil {
		return nil, err
	}
	return gen.RestoreFlowRevision200JSONResponse{FlowWrittenJSONResponse: writtenResponse(f, warnings)}, nil
}

// revisionDocument is a revision as a flow definition (the body of an update).
func revisionDocument(r *store.FlowRevision) map[string]any {
	doc := map[string]any{"name": r.Name, "detail": r.Detail, "actions": []flow.Action(r.Actions)}
	if r.OnCompleteFlowID != nil {
		doc["on_complete_flow_id"] = r.OnCompleteFlowID.String()
	}
	return doc
}

// GetFlowGraph answers a flow's current revision, or the revision asked for, as a graph: JSON, Mermaid or DOT.
func (s *Server) GetFlowGraph(ctx context.Context, req gen.GetFlowGraphRequestObject) (gen.GetFlowGraphResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	var actions []flow.Action
	if req.Params.Revision != nil {
		r, err := s.store.GetFlowRevision(ctx, customerID, req.Id, *req.Params.Revision)
		if err != nil {
			return nil, err
		}
		actions = r.Actions
	} else {
		f, err := s.store.GetFlow(ctx, customerID, req.Id)
		if err != nil {
			return nil, err
		}
		actions = f.Actions
	}
	g := flow.NewGraph(actions)
	format := gen.Json
	if req.Params.Format != nil {
		format = *req.Params.Format
	}
	switch format {
	case gen.Mermaid:
		text := g.Mermaid()
		return gen.GetFlowGraph200TextvndMermaidResponse{Body: strings.NewReader(text), ContentLength: int64(len(text))}, nil
	case gen.Dot:
		text := g.Dot()
		return gen.GetFlowGraph200TextvndGraphvizResponse{Body: strings.NewReader(text), ContentLength: int64(len(text))}, nil
	}
	return gen.GetFlowGraph200JSONResponse(toAPIGraph(g)), nil
}
