package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/flowbin/flowbin/flow"
)

// Flow is a stored flow.
type Flow struct {
	ID               uuid.UUID  `gorm:"column:id;primaryKey"`
	CustomerID       uuid.UUID  `gorm:"column:customer_id"`
	Name             string     `gorm:"column:name"`
	Detail           string     `gorm:"column:detail"`
	Actions          Actions    `gorm:"column:actions"`
	OnCompleteFlowID *uuid.UUID `gorm:"column:on_complete_flow_id"`
	Revision         int        `gorm:"column:revision"`
	TMCreate         time.Time  `gorm:"column:tm_create"`
	TMUpdate         *time.Time `gorm:"column:tm_update"`
	TMDelete         *time.Time `gorm:"column:tm_delete"`
}

// TableName tells GORM the table.
func (Flow) TableName() string { return "flows" }

// FlowRevision is an immutable revision of a flow's definition: every create, update and restore writes one.
type FlowRevision struct {
	FlowID           uuid.UUID  `gorm:"column:flow_id;primaryKey"`
	Revision         int        `gorm:"column:revision;primaryKey"`
	CustomerID       uuid.UUID  `gorm:"column:customer_id"`
	Name             string     `gorm:"column:name"`
	Detail           string     `gorm:"column:detail"`
	Actions          Actions    `gorm:"column:actions"`
	OnCompleteFlowID *uuid.UUID `gorm:"column:on_complete_flow_id"`
	AuthorType       string     `gorm:"column:author_type"`
	AuthorID         uuid.UUID  `gorm:"column:author_id"`
	AuthorName       string     `gorm:"column:author_name"`
	TMCreate         time.Time  `gorm:"column:tm_create"`
}

// TableName tells GORM the table.
func (FlowRevision) TableName() string { return "flow_revisions" }

// Author is who made a change: a user, or an access key.
type Author struct {
	Type string // "user" or "accesskey"
	ID   uuid.UUID
	Name string
}

// Match is the condition of a conditional write (If-Match): the flow's current revision must be one of
// Revisions, or Any existing revision. A nil *Match is no condition.
type Match struct {
	Any       bool
	Revisions []int
}

func (m *Match) matches(revision int) bool {
	return m == nil || m.Any || slices.Contains(m.Revisions, revision)
}

// PreconditionError is a conditional write refused because the flow is at another revision.
type PreconditionError struct {
	Current int
}

func (e *PreconditionError) Error() string {
	return fmt.Sprintf("the flow is at revision %d", e.Current)
}

// Actions is a flow's action list, kept as JSON: jsonb on PostgreSQL, text on SQLite.
type Actions []flow.Action

// Value encodes the actions as JSON text, which both dialects accept for their column type.
func (a Actions) Value() (driver.Value, error) {
	return string(a.encode()), nil
}

// encode is the actions' JSON, written once per write (flow.AppendActions: the options are compact JSON already).
func (a Actions) encode() []byte { return flow.AppendActions(nil, a) }

// Scan decodes actions read from the database.
func (a *Actions) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	case nil:
		*a = Actions{}
		return nil
	default:
		return fmt.Errorf("scan actions: unsupported type %T", src)
	}
	var list []flow.Action
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("scan actions: %w", err)
	}
	if list == nil {
		list = []flow.Action{}
	}
	*a = list
	return nil
}

func nullableID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

func liveFlows(customerID uuid.UUID) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		return db.Model(&Flow{}).Where("customer_id = ? AND tm_delete IS NULL", customerID)
	}
}

// CreateFlow stores a new flow of the customer from a validated definition, at revision 1, with the definition's
// id when it has one.
func (s *Store) CreateFlow(ctx context.Context, customerID uuid.UUID, def *flow.Definition, by Author) (*Flow, error) {
	id, err := def.ID, error(nil)
	if id == uuid.Nil {
		if id, err = uuid.NewV7(); err != nil {
			return nil, fmt.Errorf("store: create flow: %w", err)
		}
	}
	f := &Flow{
		ID:               id,
		CustomerID:       customerID,
		Name:             def.Name,
		Detail:           def.Detail,
		Actions:          actionsOf(def),
		OnCompleteFlowID: nullableID(def.OnCompleteFlowID),
		Revision:         1,
		TMCreate:         s.timestamp(),
	}
	if s.dialect == Postgres {
		err = s.createFlowPostgres(ctx, f, by)
	} else {
		err = s.InTx(ctx, func(ctx context.Context) error {
			if err := s.conn(ctx).Create(f).Error; err != nil {
				return err
			}
			return s.conn(ctx).Create(revisionOf(f, by, f.TMCreate)).Error
		})
	}
	if err != nil {
		return nil, fmt.Errorf("store: create flow: %w", classify(err))
	}
	return f, nil
}

// createFlowPostgres writes the flow and its revision 1 in one statement: one round trip, atomic without a
// transaction of its own (and part of the caller's, when ctx carries one).
func (s *Store) createFlowPostgres(ctx context.Context, f *Flow, by Author) error {
	actions := f.Actions.encode()
	if ok, err := s.createFlowPgx(ctx, f, actions, by); ok {
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
		f.ID, f.CustomerID, f.Name, f.Detail, string(actions), f.OnCompleteFlowID, f.TMCreate,
		by.Type, by.ID, by.Name).Error
}

func actionsOf(def *flow.Definition) Actions {
	if def.Actions == nil {
		return Actions{}
	}
	return def.Actions
}

func revisionOf(f *Flow, by Author, at time.Time) *FlowRevision {
	return &FlowRevision{
		FlowID: f.ID, Revision: f.Revision, CustomerID: f.CustomerID,
		Name: f.Name, Detail: f.Detail, Actions: f.Actions, OnCompleteFlowID: f.OnCompleteFlowID,
		AuthorType: by.Type, AuthorID: by.ID, AuthorName: by.Name, TMCreate: at,
	}
}

// GetFlow reads a live flow of the customer.
func (s *Store) GetFlow(ctx context.Context, customerID, id uuid.UUID) (*Flow, error) {
	var f Flow
	err := liveFlows(customerID)(s.conn(ctx)).Where("id = ?", id).Take(&f).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("store: get flow: %w", notFound("flow", id))
	}
	if err != nil {
		return nil, fmt.Errorf("store: get flow: %w", classify(err))
	}
	return &f, nil
}

// ListFlows reads one page of the customer's live flows, newest first.
func (s *Store) ListFlows(ctx context.Context, customerID uuid.UUID, p Page) ([]Flow, error) {
	flows, err := listPage(s.conn(ctx), liveFlows(customerID), p, func(f *Flow) time.Time { return f.TMCreate })
	if err != nil {
		return nil, fmt.Errorf("store: list flows: %w", err)
	}
	return flows, nil
}

// UpdateFlow replaces the definition of a live flow of the customer, as a new revision. A definition identical to
// the current one writes nothing. With a Match, a flow at another revision is a *PreconditionError and nothing is
// written; without one, the last write wins. The check and the write hold the flow's row lock (on SQLite, the
// database's write lock), so concurrent writers queue: the result is always one of the written definitions, never
// a mix.
func (s *Store) UpdateFlow(ctx context.Context, customerID, id uuid.UUID, def *flow.Definition, by Author, m *Match) (*Flow, error) {
	update := s.updateFlowSQLite
	if s.dialect == Postgres {
		update = s.updateFlowPostgres
	}
	f, err := update(ctx, customerID, id, def, by, m)
	if err != nil {
		s.observed(id, err)
		return nil, fmt.Errorf("store: update flow: %w", err)
	}
	return f, nil
}

// updateFlowSQLite reads, checks and writes in one immediate transaction, which holds SQLite's write lock.
func (s *Store) updateFlowSQLite(ctx context.Context, customerID, id uuid.UUID, def *flow.Definition, by Author, m *Match) (*Flow, error) {
	var out *Flow
	err := s.InTx(ctx, func(ctx context.Context) error {
		cur, err := s.GetFlow(ctx, customerID, id)
		if err != nil {
			return err
		}
		if !m.matches(cur.Revision) {
			return &PreconditionError{Current: cur.Revision}
		}
		if sameDefinition(cur, def) {
			out = cur
			return nil
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

// updateFlowPostgres is UpdateFlow in one statement when it writes (the usual case): the UPDATE takes the row
// lock and checks the condition and the change on the current row (PostgreSQL re-checks them on the newest
// version if another writer got there first), and the new revision is written with it. When it writes nothing,
// a read tells why: the flow is gone, at another revision, or already so; a flow changed in between is tried again.
func (s *Store) updateFlowPostgres(ctx context.Context, customerID, id uuid.UUID, def *flow.Definition, by Author, m *Match) (*Flow, error) {
	actions := actionsOf(def).encode()
	anyRevision, revisions := m == nil || m.Any, []int{}
	if m != nil {
		revisions = append(revisions, m.Revisions...)
	}
	onComplete := nullableID(def.OnCompleteFlowID)
	for range 3 {
		now := s.timestamp()
		ok, revision, created, err := s.updateFlowPgx(ctx, flowUpdate{f: &Flow{ID: id, CustomerID: customerID,
			Name: def.Name, Detail: def.Detail, OnCompleteFlowID: onComplete, TMUpdate: &now}, actions: actions,
			any: anyRevision, revisions: int32s(revisions), by: by})
		if !ok {
			err = s.conn(ctx).Raw(`WITH f AS (
    UPDATE flows
    SET name = @name, detail = @detail, actions = @actions, on_complete_flow_id = @on_complete,
        revision = revision + 1, tm_update = @now
    WHERE id = @id AND customer_id = @customer AND tm_delete IS NULL
      AND (CAST(@any AS boolean) OR revision = ANY(CAST(@revisions AS integer[])))
      AND NOT (name = @name AND detail = @detail AND actions = CAST(@actions AS jsonb)
               AND on_complete_flow_id IS NOT DISTINCT FROM CAST(@on_complete AS uuid))
    RETURNING id, customer_id, revision, tm_create, name, detail, actions, on_complete_flow_id
), r AS (
    INSERT INTO flow_revisions (flow_id, revision, customer_id, name, detail, actions, on_complete_flow_id,
                                author_type, author_id, author_name, tm_create)
    SELECT id, revision, customer_id, name, detail, actions, on_complete_flow_id,
           @author_type, @author_id, @author_name, @now FROM f
)
SELECT revision, tm_create FROM f`, map[string]any{
				"id": id, "customer": customerID, "name": def.Name, "detail": def.Detail, "actions": string(actions),
				"on_complete": onComplete, "now": now, "any": anyRevision, "revisions": pgIntArray(revisions),
				"author_type": by.Type, "author_id": by.ID, "author_name": by.Name,
			}).Row().Scan(&revision, &created)
		}
		if err == nil {
			s.flowChanged(ctx, id)
			return &Flow{
				ID: id, CustomerID: customerID, Name: def.Name, Detail: def.Detail, Actions: actionsOf(def),
				OnCompleteFlowID: onComplete, Revision: revision, TMCreate: created.UTC(), TMUpdate: &now,
			}, nil
		}
		if !errors.Is(err, sql.ErrNoRows) && !errors.Is(err, pgx.ErrNoRows) {
			return nil, classify(err)
		}
		cur, err := s.GetFlow(ctx, customerID, id)
		if err != nil {
			return nil, err
		}
		if !m.matches(cur.Revision) {
			return nil, &PreconditionError{Current: cur.Revision}
		}
		if sameDefinition(cur, def) {
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

// observed tells this process's listeners about a flow that a write found changed (at another revision) or gone:
// whatever they remember of it is older than the database, though no change is committed here.
func (s *Store) observed(id uuid.UUID, err error) {
	var stale *PreconditionError
	if errors.As(err, &stale) || errors.Is(err, ErrNotFound) {
		s.feed.changed(id)
	}
}

// sameDefinition reports whether a definition equals the flow's current one. Options are compared as JSON
// values: PostgreSQL's jsonb does not keep key order or spacing.
func sameDefinition(f *Flow, def *flow.Definition) bool {
	if f.Name != def.Name || f.Detail != def.Detail || len(f.Actions) != len(def.Actions) ||
		!reflect.DeepEqual(f.OnCompleteFlowID, nullableID(def.OnCompleteFlowID)) {
		return false
	}
	for i, a := range f.Actions {
		b := def.Actions[i]
		if a.ID != b.ID || a.NextID != b.NextID || a.Type != b.Type || !sameJSON(a.Option, b.Option) {
			return false
		}
	}
	return true
}

func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// DeleteFlow soft-deletes a live flow of the customer. With a Match, a flow at another revision is a
// *PreconditionError and stays.
func (s *Store) DeleteFlow(ctx context.Context, customerID, id uuid.UUID, m *Match) error {
	q := liveFlows(customerID)(s.conn(ctx)).Where("id = ?", id)
	if m != nil && !m.Any {
		q = q.Where("revision IN ?", m.Revisions)
	}
	res := q.Update("tm_delete", s.timestamp())
	if res.Error != nil {
		return fmt.Errorf("store: delete flow: %w", classify(res.Error))
	}
	if res.RowsAffected > 0 {
		s.flowChanged(ctx, id)
	}
	if res.RowsAffected == 0 {
		cur, err := s.GetFlow(ctx, customerID, id)
		if err == nil {
			err = &PreconditionError{Current: cur.Revision}
		}
		s.observed(id, err)
		return fmt.Errorf("store: delete flow: %w", err)
	}
	return nil
}

// ListFlowRevisions reads one page of the revisions of a live flow of the customer, newest first: at most size,
// numbered below before (all when before is 0).
func (s *Store) ListFlowRevisions(ctx context.Context, customerID, flowID uuid.UUID, size, before int) ([]FlowRevision, error) {
	if _, err := s.GetFlow(ctx, customerID, flowID); err != nil {
		return nil, fmt.Errorf("store: list flow revisions: %w", err)
	}
	q := s.conn(ctx).Where("flow_id = ? AND customer_id = ?", flowID, customerID)
	if before > 0 {
		q = q.Where("revision < ?", before)
	}
	var revs []FlowRevision
	if err := q.Order("revision DESC").Limit(Page{Size: size}.size()).Find(&revs).Error; err != nil {
		return nil, fmt.Errorf("store: list flow revisions: %w", classify(err))
	}
	return revs, nil
}

// GetFlowRevision reads one revision of a live flow of the customer.
func (s *Store) GetFlowRevision(ctx context.Context, customerID, flowID uuid.UUID, revision int) (*FlowRevision, error) {
	if _, err := s.GetFlow(ctx, customerID, flowID); err != nil {
		return nil, fmt.Errorf("store: get flow revision: %w", err)
	}
	var r FlowRevision
	err := s.conn(ctx).Where("flow_id = ? AND customer_id = ? AND revision = ?", flowID, customerID, revision).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("store: get flow revision: %w",
			&NotFoundError{Resource: "revision", ID: fmt.Sprintf("%d of flow %s", revision, flowID)})
	}
	if err != nil {
		return nil, fmt.Errorf("store: get flow revision: %w", classify(err))
	}
	return &r, nil
}

// LiveFlowIDs reports which of ids name live flows of the customer.
func (s *Store) LiveFlowIDs(ctx context.Context, customerID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	found := make(map[uuid.UUID]bool, len(ids))
	if len(ids) == 0 {
		return found, nil
	}
	var got []uuid.UUID
	err := liveFlows(customerID)(s.conn(ctx)).Where("id IN ?", ids).Pluck("id", &got).Error
	if err != nil {
		return nil, fmt.Errorf("store: check flow ids: %w", classify(err))
	}
	for _, id := range got {
		found[id] = true
	}
	return found, nil
}
