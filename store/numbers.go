package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// ErrNumberTaken: the number is a live number already, of this customer or another (calls are routed by number
// alone).
var ErrNumberTaken = errors.New("number taken")

// Number is a customer's phone number, and the flows its calls and messages run.
type Number struct {
	ID            uuid.UUID  `gorm:"column:id;primaryKey"`
	CustomerID    uuid.UUID  `gorm:"column:customer_id"`
	Number        string     `gorm:"column:number"`
	CallFlowID    *uuid.UUID `gorm:"column:call_flow_id"`
	MessageFlowID *uuid.UUID `gorm:"column:message_flow_id"`
	Name          string     `gorm:"column:name"`
	Detail        string     `gorm:"column:detail"`
	TMCreate      time.Time  `gorm:"column:tm_create"`
	TMUpdate      *time.Time `gorm:"column:tm_update"`
	TMDelete      *time.Time `gorm:"column:tm_delete"`
}

// TableName tells GORM the table.
func (Number) TableName() string { return "numbers" }

func liveNumbers(customerID uuid.UUID) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		return db.Model(&Number{}).Where("customer_id = ? AND tm_delete IS NULL", customerID)
	}
}

// CreateNumber stores a new number of n.CustomerID; it gets an id and tm_create. A number that is live already
// is ErrNumberTaken.
func (s *Store) CreateNumber(ctx context.Context, n *Number) error {
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("store: create number: %w", err)
	}
	n.ID, n.TMCreate, n.TMUpdate, n.TMDelete = id, s.timestamp(), nil, nil
	if err := s.conn(ctx).Create(n).Error; err != nil {
		if err = classify(err); errors.Is(err, ErrConflict) {
			return fmt.Errorf("store: create number: %w", ErrNumberTaken)
		}
		return fmt.Errorf("store: create number: %w", err)
	}
	return nil
}

// GetNumber reads a live number of the customer.
func (s *Store) GetNumber(ctx context.Context, customerID, id uuid.UUID) (*Number, error) {
	n, err := getOne[Number](liveNumbers(customerID)(s.conn(ctx)).Where("id = ?", id), "number", id.String())
	if err != nil {
		return nil, fmt.Errorf("store: get number: %w", err)
	}
	return n, nil
}

// ListNumbers reads one page of the customer's live numbers, newest first.
func (s *Store) ListNumbers(ctx context.Context, customerID uuid.UUID, p Page) ([]Number, error) {
	list, err := listPage(s.conn(ctx), liveNumbers(customerID), p, func(n *Number) time.Time { return n.TMCreate })
	if err != nil {
		return nil, fmt.Errorf("store: list numbers: %w", err)
	}
	return list, nil
}

// NumberChange is what an update sets; nil fields keep their value. A flow id of uuid.Nil clears it.
type NumberChange struct {
	CallFlowID, MessageFlowID *uuid.UUID
	Name, Detail              *string
}

// UpdateNumber applies a change to a live number of the customer and answers the number as it is now.
func (s *Store) UpdateNumber(ctx context.Context, customerID, id uuid.UUID, c NumberChange) (*Number, error) {
	updates := map[string]any{"tm_update": s.timestamp()}
	if c.CallFlowID != nil {
		updates["call_flow_id"] = nullableID(*c.CallFlowID)
	}
	if c.MessageFlowID != nil {
		updates["message_flow_id"] = nullableID(*c.MessageFlowID)
	}
	if c.Name != nil {
		updates["name"] = *c.Name
	}
	if c.Detail != nil {
		updates["detail"] = *c.Detail
	}
	var out *Number
	err := s.InTx(ctx, func(ctx context.Context) error {
		res := liveNumbers(customerID)(s.conn(ctx)).Where("id = ?", id).Updates(updates)
		if res.Error != nil {
			return classify(res.Error)
		}
		if res.RowsAffected == 0 {
			return notFound("number", id)
		}
		n, err := s.GetNumber(ctx, customerID, id)
		out = n
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: update number: %w", err)
	}
	return out, nil
}

// DeleteNumber deletes a live number of the customer (softly: its row stays, with tm_delete) and answers it as
// deleted. The number is free again at once.
func (s *Store) DeleteNumber(ctx context.Context, customerID, id uuid.UUID) (*Number, error) {
	var out *Number
	err := s.InTx(ctx, func(ctx context.Context) error {
		n, err := s.GetNumber(ctx, customerID, id)
		if err != nil {
			return err
		}
		now := s.timestamp()
		if err := s.conn(ctx).Model(&Number{}).Where("id = ?", id).
			Updates(map[string]any{"tm_delete": now, "tm_update": now}).Error; err != nil {
			return classify(err)
		}
		n.TMDelete, n.TMUpdate = &now, &now
		out = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: delete number: %w", err)
	}
	return out, nil
}

// NumberByValue reads the live number with this value, whichever customer it belongs to (to route a call).
func (s *Store) NumberByValue(ctx context.Context, number string) (*Number, error) {
	n, err := getOne[Number](s.conn(ctx).Where("number = ? AND tm_delete IS NULL", number), "number", number)
	if err != nil {
		return nil, fmt.Errorf("store: number by value: %w", err)
	}
	return n, nil
}
