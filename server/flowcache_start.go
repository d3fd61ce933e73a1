package server

import (
	"bytes"
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
	for i := range doc.Actions {
		if string(doc.Actions[i].Option) == "null" { // an answer may spell "no options" as null
			doc.Actions[i].Option = nil
		}
		doc.Actions[i].Option = unescapeHTML(doc.Actions[i].Option)
	}
	return &store.Flow{ID: c.id, CustomerID: c.customer, Name: doc.Name, Detail: doc.Detail, Actions: doc.Actions,
		OnCompleteFlowID: doc.OnCompleteFlowID, Revision: doc.Revision}, nil
}

// unescapeHTML undoes what encoding/json does to the <, > and & of an answer's strings (\u003c, \u003e, \u0026), so
// that the options an execution copies from a cached answer are those it copies from the store (which keeps what
// the client sent; flow.Execution.Encode adds no escapes): the same JSON values either way, and the same bytes
// unless the client itself wrote those escapes.
func unescapeHTML(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u00`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch string(b[i+2 : i+6]) {
			case "003c", "003C":
				out, i = append(out, '<'), i+5
				continue
			case "003e", "003E":
				out, i = append(out, '>'), i+5
				continue
			case "0026":
				out, i = append(out, '&'), i+5
				continue
			}
		}
		out = append(out, b[i], b[i+1]) // any other escape, \\ included, as it is
		i++
	}
	return out
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
