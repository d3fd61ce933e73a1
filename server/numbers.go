package server

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

const reasonNumberTaken = "NUMBER_TAKEN"

// ListNumbers answers one page of the caller's numbers.
func (s *Server) ListNumbers(ctx context.Context, req gen.ListNumbersRequestObject) (gen.ListNumbersResponseObject, error) {
	page, err := toPage(req.Params.PageSize, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	list, err := s.store.ListNumbers(ctx, principalFrom(ctx).CustomerID, page)
	if err != nil {
		return nil, err
	}
	out := make([]gen.Number, len(list))
	for i := range list {
		out[i] = toAPINumber(&list[i])
	}
	return gen.ListNumbers200JSONResponse{
		Result:        out,
		NextPageToken: nextPageToken(list, func(n *store.Number) time.Time { return n.TMCreate }),
	}, nil
}

// CreateNumber gives the caller a number.
func (s *Server) CreateNumber(ctx context.Context, req gen.CreateNumberRequestObject) (gen.CreateNumberResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	callFlow, messageFlow := deref(req.Body.CallFlowId), deref(req.Body.MessageFlowId)
	if err := s.checkFlowRefs(ctx, customerID, map[string]uuid.UUID{"/call_flow_id": callFlow, "/message_flow_id": messageFlow}); err != nil {
		return nil, err
	}
	n := &store.Number{CustomerID: customerID, Number: req.Body.Number, CallFlowID: nonNil(callFlow),
		MessageFlowID: nonNil(messageFlow), Name: deref(req.Body.Name), Detail: deref(req.Body.Detail)}
	if err := s.store.CreateNumber(ctx, n); err != nil {
		return nil, err
	}
	return gen.CreateNumber200JSONResponse{NumberJSONResponse: gen.NumberJSONResponse(toAPINumber(n))}, nil
}

// GetNumber answers one of the caller's numbers.
func (s *Server) GetNumber(ctx context.Context, req gen.GetNumberRequestObject) (gen.GetNumberResponseObject, error) {
	n, err := s.store.GetNumber(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetNumber200JSONResponse{NumberJSONResponse: gen.NumberJSONResponse(toAPINumber(n))}, nil
}

// UpdateNumber changes a number's flows, name and detail.
func (s *Server) UpdateNumber(ctx context.Context, req gen.UpdateNumberRequestObject) (gen.UpdateNumberResponseObject, error) {
	n, err := s.updateNumber(ctx, req.Id, store.NumberChange{CallFlowID: req.Body.CallFlowId, MessageFlowID: req.Body.MessageFlowId,
		Name: req.Body.Name, Detail: req.Body.Detail})
	if err != nil {
		return nil, err
	}
	return gen.UpdateNumber200JSONResponse{NumberJSONResponse: gen.NumberJSONResponse(toAPINumber(n))}, nil
}

// UpdateNumberFlowIDs changes a number's flows.
func (s *Server) UpdateNumberFlowIDs(ctx context.Context, req gen.UpdateNumberFlowIDsRequestObject) (gen.UpdateNumberFlowIDsResponseObject, error) {
	n, err := s.updateNumber(ctx, req.Id, store.NumberChange{CallFlowID: req.Body.CallFlowId, MessageFlowID: req.Body.MessageFlowId})
	if err != nil {
		return nil, err
	}
	return gen.UpdateNumberFlowIDs200JSONResponse{NumberJSONResponse: gen.NumberJSONResponse(toAPINumber(n))}, nil
}

func (s *Server) updateNumber(ctx context.Context, id uuid.UUID, c store.NumberChange) (*store.Number, error) {
	customerID := principalFrom(ctx).CustomerID
	if err := s.checkFlowRefs(ctx, customerID, map[string]uuid.UUID{"/call_flow_id": deref(c.CallFlowID),
		"/message_flow_id": deref(c.MessageFlowID)}); err != nil {
		return nil, err
	}
	return s.store.UpdateNumber(ctx, customerID, id, c)
}

// DeleteNumber deletes a number and answers it, deleted.
func (s *Server) DeleteNumber(ctx context.Context, req gen.DeleteNumberRequestObject) (gen.DeleteNumberResponseObject, error) {
	n, err := s.store.DeleteNumber(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.DeleteNumber200JSONResponse{NumberJSONResponse: gen.NumberJSONResponse(toAPINumber(n))}, nil
}

// checkFlowRefs answers 400 INVALID_FLOW_REFERENCE, with every offending field, unless each id (by JSON pointer)
// is uuid.Nil or a live flow of the customer.
func (s *Server) checkFlowRefs(ctx context.Context, customerID uuid.UUID, refs map[string]uuid.UUID) error {
	var ids []uuid.UUID
	for _, id := range refs {
		if id != uuid.Nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	live, err := s.store.LiveFlowIDs(ctx, customerID, ids)
	if err != nil {
		return err
	}
	var details []gen.ErrorDetail
	for _, ptr := range []string{"/call_flow_id", "/message_flow_id", "/flow_id"} {
		id, ok := refs[ptr]
		if !ok || id == uuid.Nil || live[id] {
			continue
		}
		p := ptr
		details = append(details, gen.ErrorDetail{Pointer: &p, Reason: flow.ReasonInvalidFlowReference,
			Message: "flow " + id.String() + " does not exist"})
	}
	if len(details) == 0 {
		return nil
	}
	e := badRequest(flow.ReasonInvalidFlowReference, "%s", details[0].Message)
	e.details = details
	return e
}

func nonNil(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// orZero is an optional id as VoIPbin writes it: the zero UUID when unset.
func orZero(id *uuid.UUID) uuid.UUID {
	if id == nil {
		return uuid.Nil
	}
	return *id
}

func toAPINumber(n *store.Number) gen.Number {
	status := gen.NumberStatus("active")
	if n.TMDelete != nil {
		status = gen.NumberStatus("deleted")
	}
	return gen.Number{
		Id: n.ID, CustomerId: n.CustomerID, Number: n.Number, Type: gen.NumberTypeNormal,
		CallFlowId: orZero(n.CallFlowID), MessageFlowId: orZero(n.MessageFlowID),
		Name: n.Name, Detail: n.Detail, Status: status,
		TmCreate: formatTime(n.TMCreate), TmUpdate: formatTimePtr(n.TMUpdate), TmDelete: formatTimePtr(n.TMDelete),
	}
}

// numberTaken is the answer to a number that is live already.
func numberTaken() *apiError {
	e := newError(http.StatusConflict, statusAlreadyExists, reasonNumberTaken, "the number is already in use")
	ptr := "/number"
	e.details = []gen.ErrorDetail{{Pointer: &ptr, Reason: reasonNumberTaken, Message: e.message}}
	return e
}
