package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/google/uuid"
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
	// DirectHash routes SIP calls to user "direct.<hex>" to the flow (see RegenerateDirectHash); nil: none.
	DirectHash *string `gorm:"column:direct_hash"`
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

// decideWrite is the one rule of a conditional write, shared by both dialects and by update and delete: a flow at
// a revision that m does not accept is a *PreconditionError; otherwise the write happens unless def (nil for a
// delete) equals the flow's current definition, which makes the write a no-op that keeps the revision. The
// single-statement PostgreSQL writes state the same rule in SQL and call this to tell why they wrote nothing.
func decideWrite(cur *Flow, def *flow.Definition, m *Match) (write bool, err error) {
	if !m.matches(cur.Revision) {
		return false, &PreconditionError{Current: cur.Revision}
	}
	return def == nil || !sameDefinition(cur, def), nil
}

// Actions is a flow's action list, kept as JSON: jsonb on PostgreSQL, text on SQLite.
type Actions []flow.Action

// Value encodes the actions as JSON text, which both dialects accept for their column type.
func (a Actions) Value() (driver.Value, error) {
	if a == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]flow.Action(a))
	if err != nil {
		return nil, fmt.Errorf("encode actions: %w", err)
	}
	return string(b), nil
}

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
	create := s.createFlowSQLite
	if s.dialect == Postgres {
		create = s.createFlowPostgres
	}
	if err := create(ctx, f, by); err != nil {
		return nil, fmt.Errorf("store: create flow: %w", classify(err))
	}
	return f, nil
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
	f, err := getOne[Flow](liveFlows(customerID)(s.conn(ctx)).Where("id = ?", id), "flow", id.String())
	if err != nil {
		return nil, fmt.Errorf("store: get flow: %w", err)
	}
	return f, nil
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
			_, err = decideWrite(cur, nil, m)
		}
		if err == nil {
			// Matched on this read, so it changed between the two statements; as with any write that races a
			// change, the caller sees the revision it lost to.
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
	r, err := getOne[FlowRevision](
		s.conn(ctx).Where("flow_id = ? AND customer_id = ? AND revision = ?", flowID, customerID, revision),
		"revision", fmt.Sprintf("%d of flow %s", revision, flowID))
	if err != nil {
		return nil, fmt.Errorf("store: get flow revision: %w", err)
	}
	return r, nil
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
