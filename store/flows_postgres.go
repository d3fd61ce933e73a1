package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// The PostgreSQL writes of flows: each a single statement that writes the flow and its revision together, in one
// round trip, atomic without a transaction of its own.

// createFlowPostgres writes the flow and its revision 1 in one statement: one round trip, atomic without a
// transaction of its own (and part of the caller's, when ctx carries one).
func (s *Store) createFlowPostgres(ctx context.Context, f *Flow, by Author) error {
	actions, err := f.Actions.Value()
	if err != nil {
		return err
	}
	return s.conn(ctx).Exec(`WITH f AS (
    INSERT INTO flows (id, customer_id, name, detail, actions, on_complete_flow_id, revision, tm_create)
    VALUES (?, ?, ?, ?, ?, ?, 1, ?)
    RETURNING id, revision, customer_id, name, detail, actions, on_complete_flow_id, tm_create
)
INSERT INTO flow_revisions (flow_id, revision, customer_id, name, detail, actions, on_complete_flow_id,
                            author_type, author_id, author_name, tm_create)
SELECT id, revision, customer_id, name, detail, actions, on_complete_flow_id, ?, ?, ?, tm_create FROM f`,
		f.ID, f.CustomerID, f.Name, f.Detail, actions, f.OnCompleteFlowID, f.TMCreate,
		by.Type, by.ID, by.Name).Error
}

// updateFlowPostgres is UpdateFlow in one statement when it writes (the usual case): the UPDATE takes the row
// lock and checks the condition and the change on the current row (PostgreSQL re-checks them on the newest
// version if another writer got there first), and the new revision is written with it. When it writes nothing,
// a read tells why: the flow is gone, at another revision, or already so; a flow changed in between is tried again.
func (s *Store) updateFlowPostgres(ctx context.Context, customerID, id uuid.UUID, def *flow.Definition, by Author, m *Match) (*Flow, error) {
	actions, err := actionsOf(def).Value()
	if err != nil {
		return nil, err
	}
	anyRevision, revisions := m == nil || m.Any, []int{}
	if m != nil {
		revisions = append(revisions, m.Revisions...)
	}
	onComplete := nullableID(def.OnCompleteFlowID)
	for range 3 {
		now := s.timestamp()
		var (
			revision   int
			created    time.Time
			directHash *string
		)
		err := s.conn(ctx).Raw(`WITH f AS (
    UPDATE flows
    SET name = @name, detail = @detail, actions = @actions, on_complete_flow_id = @on_complete,
        revision = revision + 1, tm_update = @now
    WHERE id = @id AND customer_id = @customer AND tm_delete IS NULL
      AND (CAST(@any AS boolean) OR revision = ANY(CAST(@revisions AS integer[])))
      AND NOT (name = @name AND detail = @detail AND actions = CAST(@actions AS jsonb)
               AND on_complete_flow_id IS NOT DISTINCT FROM CAST(@on_complete AS uuid))
    RETURNING id, customer_id, revision, tm_create, name, detail, actions, on_complete_flow_id, direct_hash
), r AS (
    INSERT INTO flow_revisions (flow_id, revision, customer_id, name, detail, actions, on_complete_flow_id,
                                author_type, author_id, author_name, tm_create)
    SELECT id, revision, customer_id, name, detail, actions, on_complete_flow_id,
           @author_type, @author_id, @author_name, @now FROM f
)
SELECT revision, tm_create, direct_hash FROM f`, map[string]any{
			"id": id, "customer": customerID, "name": def.Name, "detail": def.Detail, "actions": actions,
			"on_complete": onComplete, "now": now, "any": anyRevision, "revisions": pgIntArray(revisions),
			"author_type": by.Type, "author_id": by.ID, "author_name": by.Name,
		}).Row().Scan(&revision, &created, &directHash)
		if err == nil {
			s.flowChanged(ctx, id)
			return &Flow{
				ID: id, CustomerID: customerID, Name: def.Name, Detail: def.Detail, Actions: actionsOf(def),
				OnCompleteFlowID: onComplete, Revision: revision, TMCreate: created.UTC(), TMUpdate: &now,
				DirectHash: directHash,
			}, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, classify(err)
		}
		cur, err := s.GetFlow(ctx, customerID, id)
		if err != nil {
			return nil, err
		}
		if write, err := decideWrite(cur, def, m); !write {
			if err != nil {
				return nil, err
			}
			return cur, nil
		}
		// Changed between the two statements: try again.
	}
	return nil, fmt.Errorf("%w: the flow kept changing", ErrUnavailable)
}

// pgIntArray is an integer[] literal, for = ANY(...).
func pgIntArray(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return "{" + strings.Join(parts, ",") + "}"
}
