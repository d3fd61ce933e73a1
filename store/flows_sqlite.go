package store

import (
	"context"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// The SQLite writes of flows: a transaction of plain statements, whose write lock (taken at its start: the
// connection begins immediate transactions) makes the read, the check and the write one step.

// createFlowSQLite writes the flow and its revision 1 in one transaction (the caller's, when ctx carries one).
func (s *Store) createFlowSQLite(ctx context.Context, f *Flow, by Author) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.conn(ctx).Create(f).Error; err != nil {
			return err
		}
		return s.conn(ctx).Create(revisionOf(f, by, f.TMCreate)).Error
	})
}

// updateFlowSQLite reads, checks and writes in one immediate transaction, which holds SQLite's write lock.
func (s *Store) updateFlowSQLite(ctx context.Context, customerID, id uuid.UUID, def *flow.Definition, by Author, m *Match) (*Flow, error) {
	var out *Flow
	err := s.InTx(ctx, func(ctx context.Context) error {
		cur, err := s.GetFlow(ctx, customerID, id)
		if err != nil {
			return err
		}
		if write, err := decideWrite(cur, def, m); !write {
			out = cur
			return err
		}
		now := s.timestamp()
		next := *cur
		next.Name, next.Detail, next.Actions = def.Name, def.Detail, actionsOf(def)
		next.OnCompleteFlowID = nullableID(def.OnCompleteFlowID)
		next.Revision = cur.Revision + 1
		next.TMUpdate = &now
		err = s.conn(ctx).Model(&Flow{}).Where("id = ?", id).Updates(map[string]any{
			"name": next.Name, "detail": next.Detail, "actions": next.Actions,
			"on_complete_flow_id": next.OnCompleteFlowID, "revision": next.Revision, "tm_update": now,
		}).Error
		if err != nil {
			return err
		}
		if err := s.conn(ctx).Create(revisionOf(&next, by, now)).Error; err != nil {
			return err
		}
		s.flowChanged(ctx, id)
		out = &next
		return nil
	})
	return out, err
}
