package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store"
)

// cachedFlow reads a live flow of the customer for an execution (a call's start, an on_complete start,
// fetch_flow) through the flow cache: a start of a flow that GET or another start read recently costs no query. A
// cached answer is as current as GET's (see flowCache), and an execution copies the actions of the revision it
// read, so it runs exactly what a read of the store would have given it then. The answer is decoded into a flow
// of the caller's own: nothing cached is shared with the execution.
func (s *Server) cachedFlow(ctx context.Context, customerID, id uuid.UUID) (*store.Flow, error) {
	c, f, err := s.flowAnswer(ctx, customerID, id)
	if err != nil || f != nil {
		return f, err
	}
	return c.decode()
}

// decode reads a cached answer back into the flow it was encoded from (what an execution needs of it: its
// definition and revision).
func (c *cachedFlow) decode() (*store.Flow, error) {
	var doc struct {
		Name             string        `json:"name"`
		Detail           string        `json:"detail"`
		Actions          []flow.Action `json:"actions"`
		OnCompleteFlowID *uuid.UUID    `json:"on_complete_flow_id"`
		Revision         int           `json:"revision"`
	}
	if err := json.Unmarshal(c.body, &doc); err != nil {
		return nil, fmt.Errorf("server: decode the cached answer of flow %s: %w", c.id, err)
	}
	if doc.OnCompleteFlowID != nil && *doc.OnCompleteFlowID == uuid.Nil {
		doc.OnCompleteFlowID = nil // the zero UUID is VoIPbin's "none"
	}
	if doc.Actions == nil {
		doc.Actions = []flow.Action{}
	}
	return &store.Flow{ID: c.id, CustomerID: c.customer, Name: doc.Name, Detail: doc.Detail, Actions: doc.Actions,
		OnCompleteFlowID: doc.OnCompleteFlowID, Revision: doc.Revision}, nil
}

// liveFlowIDs reports which of ids name live flows of the customer: those in the flow cache without a query (an
// entry is dropped when its flow changes or is deleted), the others from the store.
func (s *Server) liveFlowIDs(ctx context.Context, customerID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	found := make(map[uuid.UUID]bool, len(ids))
	var rest []uuid.UUID
	for _, id := range ids {
		if c, _, ok := s.cache.get(id); ok && c.customer == customerID {
			found[id] = true
			continue
		}
		rest = append(rest, id)
	}
	if len(rest) == 0 {
		return found, nil
	}
	live, err := s.store.LiveFlowIDs(ctx, customerID, rest)
	if err != nil {
		return nil, err
	}
	for id := range live {
		found[id] = true
	}
	return found, nil
}
