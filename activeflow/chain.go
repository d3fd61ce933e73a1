package activeflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store"
)

// MaxChain bounds a chain of on_complete_flow_id: VoIPbin's limit of 5 activeflows.
const MaxChain = 5

// completeChain starts what an activeflow's end starts: its on_complete_flow_id as a new activeflow of the same
// customer with its variables and its reference, and so on while each ends at once, at most MaxChain activeflows
// in a chain. It answers the activeflows to create; a names its successor, or says why there is none.
func (s *Service) completeChain(ctx context.Context, send *sender, a *store.Activeflow) ([]*change, error) {
	var out []*change
	for cur := a; cur.State.Ended && cur.OnCompleteFlowID != nil && cur.OnCompleteActiveflowID == nil && cur.OnCompleteError == ""; {
		if cur.CompleteCount+1 >= MaxChain {
			cur.OnCompleteError = fmt.Sprintf("not started: a chain of on_complete_flow_id holds at most %d activeflows", MaxChain)
			break
		}
		f, err := s.flow(ctx, cur.CustomerID, *cur.OnCompleteFlowID)
		if errors.Is(err, store.ErrNotFound) {
			cur.OnCompleteError = fmt.Sprintf("not started: flow %s does not exist", *cur.OnCompleteFlowID)
			break
		}
		if err != nil {
			return nil, err
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		revision, refID := f.Revision, cur.ID
		next := &store.Activeflow{ID: id, CustomerID: cur.CustomerID, FlowID: &f.ID, FlowRevision: &revision,
			ReferenceActiveflowID: &refID, CompleteCount: cur.CompleteCount + 1, OnCompleteFlowID: f.OnCompleteFlowID,
			ReferenceType: cur.ReferenceType, ReferenceID: cur.ReferenceID}
		var refOf uuid.UUID
		if cur.ReferenceID != nil {
			refOf = *cur.ReferenceID
		}
		x := flow.NewExecution(flow.Origin{ActiveflowID: id, FlowID: f.ID, Revision: revision, ReferenceActiveflowID: cur.ID,
			ReferenceType: cur.ReferenceType, ReferenceID: refOf,
			CompleteCount: next.CompleteCount, Inherited: cur.State.Variables}, f.Actions, nil)
		step, err := s.engine(cur.CustomerID, nil, send).Start(ctx, x)
		if err != nil {
			return nil, err
		}
		next.State = store.State{Execution: *x}
		cur.OnCompleteActiveflowID = &next.ID
		out = append(out, &change{a: next, create: true, event: EventCreated, step: step})
		cur = next
	}
	return out, nil
}
