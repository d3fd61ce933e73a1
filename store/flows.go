package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
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
	TMCreate         time.Time  `gorm:"column:tm_create"`
	TMUpdate         *time.Time `gorm:"column:tm_update"`
	TMDelete         *time.Time `gorm:"column:tm_delete"`
}

// TableName tells GORM the table.
func (Flow) TableName() string { return "flows" }

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

// CreateFlow stores a new flow of the customer from a validated definition.
func (s *Store) CreateFlow(ctx context.Context, customerID uuid.UUID, def *flow.Definition) (*Flow, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("store: create flow: %w", err)
	}
	f := &Flow{
		ID:               id,
		CustomerID:       customerID,
		Name:             def.Name,
		Detail:           def.Detail,
		Actions:          def.Actions,
		OnCompleteFlowID: nullableID(def.OnCompleteFlowID),
		TMCreate:         s.timestamp(),
	}
	if f.Actions == nil {
		f.Actions = Actions{}
	}
	if err := s.db.WithContext(ctx).Create(f).Error; err != nil {
		return nil, fmt.Errorf("store: create flow: %w", classify(err))
	}
	return f, nil
}

// GetFlow reads a live flow of the customer.
func (s *Store) GetFlow(ctx context.Context, customerID, id uuid.UUID) (*Flow, error) {
	var f Flow
	err := liveFlows(customerID)(s.db.WithContext(ctx)).Where("id = ?", id).Take(&f).Error
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
	flows, err := listPage(ctx, s.db, liveFlows(customerID), p, func(f *Flow) time.Time { return f.TMCreate })
	if err != nil {
		return nil, fmt.Errorf("store: list flows: %w", err)
	}
	return flows, nil
}

// UpdateFlow replaces the definition of a live flow of the customer.
func (s *Store) UpdateFlow(ctx context.Context, customerID, id uuid.UUID, def *flow.Definition) (*Flow, error) {
	actions := Actions(def.Actions)
	if actions == nil {
		actions = Actions{}
	}
	now := s.timestamp()
	res := liveFlows(customerID)(s.db.WithContext(ctx)).Where("id = ?", id).Updates(map[string]any{
		"name":                def.Name,
		"detail":              def.Detail,
		"actions":             actions,
		"on_complete_flow_id": nullableID(def.OnCompleteFlowID),
		"tm_update":           now,
	})
	if res.Error != nil {
		return nil, fmt.Errorf("store: update flow: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("store: update flow: %w", notFound("flow", id))
	}
	return s.GetFlow(ctx, customerID, id)
}

// DeleteFlow soft-deletes a live flow of the customer.
func (s *Store) DeleteFlow(ctx context.Context, customerID, id uuid.UUID) error {
	res := liveFlows(customerID)(s.db.WithContext(ctx)).Where("id = ?", id).Update("tm_delete", s.timestamp())
	if res.Error != nil {
		return fmt.Errorf("store: delete flow: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: delete flow: %w", notFound("flow", id))
	}
	return nil
}

// LiveFlowIDs reports which of ids name live flows of the customer.
func (s *Store) LiveFlowIDs(ctx context.Context, customerID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	found := make(map[uuid.UUID]bool, len(ids))
	if len(ids) == 0 {
		return found, nil
	}
	var got []uuid.UUID
	err := liveFlows(customerID)(s.db.WithContext(ctx)).Where("id IN ?", ids).Pluck("id", &got).Error
	if err != nil {
		return nil, fmt.Errorf("store: check flow ids: %w", classify(err))
	}
	for _, id := range got {
		found[id] = true
	}
	return found, nil
}
