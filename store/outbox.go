package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Outbox message states.
const (
	OutboxPending   = "pending"   // to deliver, at next_attempt
	OutboxDelivered = "delivered" // a 2xx answer
	OutboxFailed    = "failed"    // given up on
)

// OutboxRetention is how long a message that is done (delivered or failed) stays listed, before Sweep drops it.
const OutboxRetention = 7 * 24 * time.Hour

// OutboxMessage is one request flowbin owes a customer's system: an activeflow's event, or a webhook_send that
// does not wait. It is written in the transaction of the change that caused it, so that no change commits without
// it and none is sent for a change that rolled back.
type OutboxMessage struct {
	ID           uuid.UUID  `gorm:"column:id;primaryKey"`
	CustomerID   uuid.UUID  `gorm:"column:customer_id"`
	ActiveflowID uuid.UUID  `gorm:"column:activeflow_id"`
	EventType    string     `gorm:"column:event_type"`
	URL          string     `gorm:"column:url"`
	Method       string     `gorm:"column:method"`
	ContentType  string     `gorm:"column:content_type"`
	Payload      string     `gorm:"column:payload"`
	Signed       bool       `gorm:"column:signed"`
	State        string     `gorm:"column:state"`
	Attempts     int        `gorm:"column:attempts"`
	NextAttempt  time.Time  `gorm:"column:next_attempt"`
	LeaseUntil   *time.Time `gorm:"column:lease_until"`
	TMCreate     time.Time  `gorm:"column:tm_create"`
	TMUpdate     *time.Time `gorm:"column:tm_update"`

	// Log is the message's attempts, oldest first, when read with ListOutbox.
	Log []OutboxAttempt `gorm:"-"`
}

// TableName tells GORM the table.
func (OutboxMessage) TableName() string { return "outbox" }

// OutboxAttempt is one attempt to deliver a message.
type OutboxAttempt struct {
	MessageID  uuid.UUID `gorm:"column:message_id;primaryKey"`
	Attempt    int       `gorm:"column:attempt;primaryKey"`
	TMAttempt  time.Time `gorm:"column:tm_attempt"`
	Status     int       `gorm:"column:status"` // the HTTP status; 0 when nothing answered
	Error      string    `gorm:"column:error"`
	DurationMS int       `gorm:"column:duration_ms"`
}

// TableName tells GORM the table.
func (OutboxAttempt) TableName() string { return "outbox_attempts" }

// EnqueueOutbox writes messages, due now, in the transaction of ctx if there is one. Each gets an id unless it
// has one. notify, when not nil, runs once they are committed (to wake a deliverer).
func (s *Store) EnqueueOutbox(ctx context.Context, msgs []OutboxMessage, notify func()) error {
	if len(msgs) == 0 {
		return nil
	}
	now := s.timestamp()
	for i := range msgs {
		m := &msgs[i]
		if m.ID == uuid.Nil {
			id, err := uuid.NewV7()
			if err != nil {
				return fmt.Errorf("store: enqueue: %w", err)
			}
			m.ID = id
		}
		m.State, m.Attempts, m.NextAttempt, m.TMCreate = OutboxPending, 0, now, now
	}
	if err := s.conn(ctx).Create(&msgs).Error; err != nil {
		return fmt.Errorf("store: enqueue: %w", classify(err))
	}
	if notify != nil {
		afterCommit(ctx, notify)
	}
	return nil
}

// ClaimOutbox leases up to limit messages that are due at now and not leased, until now+lease, and answers them.
// On PostgreSQL the claim skips rows another instance is claiming (FOR UPDATE SKIP LOCKED), so instances share the
// work and never hold one message at once; on SQLite the database's single writer does the same.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error) {
	now = now.UTC().Truncate(time.Microsecond)
	until := now.Add(lease)
	var out []OutboxMessage
	err := s.InTx(ctx, func(ctx context.Context) error {
		q := s.conn(ctx).Model(&OutboxMessage{}).Select("id").
			Where("state = ? AND next_attempt <= ? AND (lease_until IS NULL OR lease_until < ?)", OutboxPending, now, now).
			Order("next_attempt").Limit(limit)
		if s.dialect == Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var ids []uuid.UUID
		if err := q.Find(&ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := s.conn(ctx).Model(&OutboxMessage{}).Where("id IN ?", ids).Update("lease_until", until).Error; err != nil {
			return err
		}
		return s.conn(ctx).Where("id IN ?", ids).Order("next_attempt").Find(&out).Error
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", classify(err))
	}
	return out, nil
}

// ErrLeaseLost is an attempt recorded after the message's lease ran out and another deliverer took it.
var ErrLeaseLost = errors.New("store: the message's lease was lost")

// FinishOutboxAttempt records an attempt of a message leased by ClaimOutbox, and moves it to state (pending again
// at next, delivered or failed). A deliverer whose lease ran out meanwhile records nothing: ErrLeaseLost.
func (s *Store) FinishOutboxAttempt(ctx context.Context, m *OutboxMessage, a OutboxAttempt, state string, next time.Time) error {
	a.MessageID = m.ID
	a.TMAttempt = a.TMAttempt.UTC().Truncate(time.Microsecond)
	now := s.timestamp()
	err := s.InTx(ctx, func(ctx context.Context) error {
		res := s.conn(ctx).Model(&OutboxMessage{}).Where("id = ? AND lease_until = ? AND attempts = ?", m.ID, m.LeaseUntil, m.Attempts).
			Updates(map[string]any{"attempts": a.Attempt, "state": state, "next_attempt": next.UTC().Truncate(time.Microsecond),
				"lease_until": gorm.Expr("NULL"), "tm_update": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrLeaseLost
		}
		return s.conn(ctx).Create(&a).Error
	})
	if errors.Is(err, ErrLeaseLost) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store: finish outbox attempt: %w", classify(err))
	}
	return nil
}

// ListOutbox reads the messages of an activeflow of the customer, oldest first, with their attempts.
func (s *Store) ListOutbox(ctx context.Context, customerID, activeflowID uuid.UUID, limit int) ([]OutboxMessage, error) {
	var out []OutboxMessage
	err := s.conn(ctx).Where("customer_id = ? AND activeflow_id = ?", customerID, activeflowID).
		Order("tm_create, id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("store: list outbox: %w", classify(err))
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]uuid.UUID, len(out))
	byID := make(map[uuid.UUID]*OutboxMessage, len(out))
	for i := range out {
		ids[i] = out[i].ID
		byID[out[i].ID] = &out[i]
		out[i].Log = []OutboxAttempt{}
	}
	var attempts []OutboxAttempt
	if err := s.conn(ctx).Where("message_id IN ?", ids).Order("message_id, attempt").Find(&attempts).Error; err != nil {
		return nil, fmt.Errorf("store: list outbox: %w", classify(err))
	}
	for _, a := range attempts {
		m := byID[a.MessageID]
		m.Log = append(m.Log, a)
	}
	return out, nil
}

// OutboxDepth counts the messages waiting for delivery.
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	if err := s.conn(ctx).Model(&OutboxMessage{}).Where("state = ?", OutboxPending).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("store: outbox depth: %w", classify(err))
	}
	return n, nil
}
