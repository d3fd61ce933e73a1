package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// ActiveflowAction is one action an activeflow executed, a row of activeflow_actions (the stored format version
// 2, docs/execution.md): appended with the step that ran it, never rewritten. Executed is the whole record in
// flow's format (flow.EncodeExecuted); the other columns repeat what reports read without decoding it.
type ActiveflowAction struct {
	ActiveflowID uuid.UUID `gorm:"column:activeflow_id;primaryKey"`
	Step         int       `gorm:"column:step;primaryKey"`
	CustomerID   uuid.UUID `gorm:"column:customer_id"`
	// FlowID and FlowRevision are those of the flow the action belongs to (its frame's); nil for inline actions
	// and those a fetch returned.
	FlowID       *uuid.UUID `gorm:"column:flow_id"`
	FlowRevision *int       `gorm:"column:flow_revision"`
	ActionID     uuid.UUID  `gorm:"column:action_id"`
	ActionType   string     `gorm:"column:action_type"`
	Executed     string     `gorm:"column:executed"`
	TMExecute    time.Time  `gorm:"column:tm_execute"`
}

// TableName tells GORM the table.
func (ActiveflowAction) TableName() string { return "activeflow_actions" }

// NewActiveflowAction is the row of an action the activeflow executed.
func NewActiveflowAction(activeflowID, customerID uuid.UUID, r *flow.Executed) (ActiveflowAction, error) {
	b, err := flow.EncodeExecuted(r)
	if err != nil {
		return ActiveflowAction{}, err
	}
	row := ActiveflowAction{ActiveflowID: activeflowID, Step: r.Step, CustomerID: customerID, ActionID: r.ID,
		ActionType: string(r.Type), Executed: string(b), TMExecute: r.TMExecute.UTC()}
	if r.FlowID != uuid.Nil {
		id, rev := r.FlowID, r.Revision
		row.FlowID, row.FlowRevision = &id, &rev
	}
	return row, nil
}

// AppendActiveflowActions writes rows of executed actions, in the transaction of ctx if there is one. A step
// already written (the same activeflow and step) is ErrConflict: steps are never rewritten.
func (s *Store) AppendActiveflowActions(ctx context.Context, rows []ActiveflowAction) error {
	if len(rows) == 0 {
		return nil
	}
	if err := s.conn(ctx).CreateInBatches(&rows, 200).Error; err != nil {
		return fmt.Errorf("store: append activeflow actions: %w", classify(err))
	}
	return nil
}

// ActiveflowActions reads the actions an activeflow executed that are stored as rows, in the order of their steps.
func (s *Store) ActiveflowActions(ctx context.Context, activeflowID uuid.UUID) ([]flow.Executed, error) {
	all, err := s.activeflowActionsOf(ctx, []uuid.UUID{activeflowID})
	if err != nil {
		return nil, err
	}
	return all[activeflowID], nil
}

// activeflowActionsOf reads the executed actions of several activeflows (a page of a list) in one query.
func (s *Store) activeflowActionsOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]flow.Executed, error) {
	out := make(map[uuid.UUID][]flow.Executed, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ActiveflowID uuid.UUID `gorm:"column:activeflow_id"`
		Executed     string    `gorm:"column:executed"`
	}
	err := s.conn(ctx).Model(&ActiveflowAction{}).Select("activeflow_id, executed").
		Where("activeflow_id IN ?", ids).Order("activeflow_id, step").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: read activeflow actions: %w", classify(err))
	}
	for _, r := range rows {
		x, err := flow.DecodeExecuted([]byte(r.Executed))
		if err != nil {
			return nil, fmt.Errorf("store: read activeflow actions: %w", err)
		}
		out[r.ActiveflowID] = append(out[r.ActiveflowID], x)
	}
	return out, nil
}
