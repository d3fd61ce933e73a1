package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/flowbin/flowbin/flow"
)

// Activeflow statuses.
const (
	ActiveflowRunning = "running"
	ActiveflowEnded   = "ended"
)

// Activeflow is one execution of a flow, or of inline actions.
type Activeflow struct {
	ID           uuid.UUID  `gorm:"column:id;primaryKey"`
	CustomerID   uuid.UUID  `gorm:"column:customer_id"`
	FlowID       *uuid.UUID `gorm:"column:flow_id"`
	FlowRevision *int       `gorm:"column:flow_revision"`
	Status       string     `gorm:"column:status"`
	EndReason    string     `gorm:"column:end_reason"`
	State        State      `gorm:"column:state"`
	Version      int        `gorm:"column:version"`
	// WebhookURI and WebhookMethod are where the activeflow's events go, besides its customer's webhook.
	WebhookURI    string `gorm:"column:webhook_uri"`
	WebhookMethod string `gorm:"column:webhook_method"`
	// OnCompleteFlowID starts when the execution ends, as the activeflow OnCompleteActiveflowID (or not, and
	// OnCompleteError says why). ReferenceActiveflowID is the activeflow whose end started this one, CompleteCount
	// its place in that chain (0 for the first).
	OnCompleteFlowID       *uuid.UUID `gorm:"column:on_complete_flow_id"`
	OnCompleteActiveflowID *uuid.UUID `gorm:"column:on_complete_activeflow_id"`
	OnCompleteError        string     `gorm:"column:on_complete_error"`
	ReferenceActiveflowID  *uuid.UUID `gorm:"column:reference_activeflow_id"`
	CompleteCount          int        `gorm:"column:complete_count"`
	// ReferenceType and ReferenceID are what the activeflow runs for, in VoIPbin's terms: "api" (and no id) when
	// started through the API, "call" and the call's id when a call runs it.
	ReferenceType string     `gorm:"column:reference_type"`
	ReferenceID   *uuid.UUID `gorm:"column:reference_id"`
	// ClaimUntil is when a claim of the activeflow's current step lets go (ClaimActiveflow); nil: unclaimed.
	ClaimUntil *time.Time `gorm:"column:claim_until"`
	// claimed: this copy holds the claim, and its save may pass it.
	claimed  bool
	TMCreate time.Time  `gorm:"column:tm_create"`
	TMUpdate *time.Time `gorm:"column:tm_update"`
	TMEnd    *time.Time `gorm:"column:tm_end"`
	TMDelete *time.Time `gorm:"column:tm_delete"`
}

// TableName tells GORM the table.
func (Activeflow) TableName() string { return "activeflows" }

// State is an execution's state in flow's stored format (flow.ExecutionVersion): jsonb on PostgreSQL, text on
// SQLite.
type State struct{ flow.Execution }

// Value encodes the state.
func (s State) Value() (driver.Value, error) {
	b, err := s.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode activeflow state: %w", err)
	}
	return string(b), nil
}

// Scan decodes the state.
func (s *State) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("scan activeflow state: unsupported type %T", src)
	}
	x, err := flow.DecodeExecution(b)
	if err != nil {
		return fmt.Errorf("scan activeflow state: %w", err)
	}
	s.Execution = *x
	return nil
}

// sync copies the execution's outcome into the row's columns.
func (a *Activeflow) sync(now time.Time) {
	if a.State.Ended && a.Status != ActiveflowEnded {
		a.Status, a.EndReason, a.TMEnd = ActiveflowEnded, a.State.EndReason, &now
	}
}

func liveActiveflows(customerID uuid.UUID) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		return db.Model(&Activeflow{}).Where("customer_id = ? AND tm_delete IS NULL", customerID)
	}
}

// CreateActiveflow stores a new activeflow, in the state its start left it. It gets an id unless it has one.
func (s *Store) CreateActiveflow(ctx context.Context, a *Activeflow) error {
	if a.ID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("store: create activeflow: %w", err)
		}
		a.ID = id
	}
	now := s.timestamp()
	a.Version, a.TMCreate, a.Status = 1, now, ActiveflowRunning
	a.sync(now)
	ok, err := s.createActiveflowPgx(ctx, a)
	if !ok {
		err = s.conn(ctx).Create(a).Error
	}
	if err != nil {
		return fmt.Errorf("store: create activeflow: %w", classify(err))
	}
	return nil
}

// GetActiveflow reads an activeflow of the customer.
func (s *Store) GetActiveflow(ctx context.Context, customerID, id uuid.UUID) (*Activeflow, error) {
	ok, got, err := s.getActiveflowPgx(ctx, customerID, id)
	if !ok {
		err = liveActiveflows(customerID)(s.conn(ctx)).Where("id = ?", id).Take(got).Error
	}
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store: get activeflow: %w", notFound("activeflow", id))
	}
	if err != nil {
		return nil, fmt.Errorf("store: get activeflow: %w", classify(err))
	}
	return got, nil
}

// ListActiveflows reads one page of the customer's activeflows, newest first.
func (s *Store) ListActiveflows(ctx context.Context, customerID uuid.UUID, p Page) ([]Activeflow, error) {
	list, err := listPage(s.conn(ctx), liveActiveflows(customerID), p, func(a *Activeflow) time.Time { return a.TMCreate })
	if err != nil {
		return nil, fmt.Errorf("store: list activeflows: %w", err)
	}
	return list, nil
}

// Claimed reports whether a claim of the activeflow's current step holds at now (someone performs it).
func (a *Activeflow) Claimed(now time.Time) bool {
	return a.ClaimUntil != nil && a.ClaimUntil.After(now)
}

// HoldsClaim reports whether this copy of the activeflow holds a claim of its step (ClaimActiveflow).
func (a *Activeflow) HoldsClaim() bool { return a.claimed }

// ClaimActiveflow claims an activeflow read at version a.Version for what its current step performs outside
// (a sync webhook_send, a fetch), until lease passes: it moves the version on, so that whoever read it before
// cannot write, and holds the claim, so that whoever reads it now writes nothing until the claimer has (or the
// claim has passed). It is ErrStale when the activeflow changed since it was read or another holds a claim.
// It commits at once, outside the transaction ctx may carry: a claim must be seen before anything leaves.
func (s *Store) ClaimActiveflow(ctx context.Context, a *Activeflow, lease time.Duration) error {
	now := s.timestamp()
	until := now.Add(lease)
	res := liveActiveflows(a.CustomerID)(s.db.WithContext(ctx)).
		Where("id = ? AND version = ? AND (claim_until IS NULL OR claim_until <= ?)", a.ID, a.Version, now).
		Updates(map[string]any{"version": a.Version + 1, "claim_until": until})
	if res.Error != nil {
		return fmt.Errorf("store: claim activeflow: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		if _, err := s.GetActiveflow(ctx, a.CustomerID, a.ID); err != nil {
			return fmt.Errorf("store: claim activeflow: %w", err)
		}
		return fmt.Errorf("store: claim activeflow: %w", ErrStale)
	}
	a.Version++
	a.ClaimUntil, a.claimed = &until, true
	return nil
}

// ReleaseActiveflow lets go of a claim this copy holds whose step will not be written (its write failed): the next
// report need not wait for the claim to pass. The version stays moved on. It commits at once, outside the
// transaction ctx may carry (which is rolling back).
func (s *Store) ReleaseActiveflow(ctx context.Context, a *Activeflow) error {
	if !a.claimed {
		return nil
	}
	err := liveActiveflows(a.CustomerID)(s.db.WithContext(ctx)).Where("id = ? AND version = ?", a.ID, a.Version).
		Update("claim_until", nil).Error
	if err != nil {
		return fmt.Errorf("store: release activeflow: %w", classify(err))
	}
	a.ClaimUntil, a.claimed = nil, false
	return nil
}

// SaveActiveflow writes an activeflow that was read at version a.Version, and moves it to the next version. When
// someone else saved it since (another runner), or holds a claim of it (ClaimActiveflow) that has not passed, it
// is ErrStale and nothing is written. The save ends a claim.
func (s *Store) SaveActiveflow(ctx context.Context, a *Activeflow) error {
	now := s.timestamp()
	a.sync(now)
	ok, written, err := s.saveActiveflowPgx(ctx, a, now)
	if !ok {
		q := liveActiveflows(a.CustomerID)(s.conn(ctx)).Where("id = ? AND version = ?", a.ID, a.Version)
		if !a.claimed {
			q = q.Where("(claim_until IS NULL OR claim_until <= ?)", now)
		}
		res := q.Updates(map[string]any{"status": a.Status, "end_reason": a.EndReason, "state": a.State,
			"version": a.Version + 1, "tm_update": now, "tm_end": a.TMEnd, "tm_delete": a.TMDelete,
			"on_complete_activeflow_id": a.OnCompleteActiveflowID, "on_complete_error": a.OnCompleteError, "claim_until": nil})
		err, written = res.Error, res.RowsAffected
	}
	if err != nil {
		return fmt.Errorf("store: save activeflow: %w", classify(err))
	}
	if written == 0 {
		if _, err := s.GetActiveflow(ctx, a.CustomerID, a.ID); err != nil {
			return fmt.Errorf("store: save activeflow: %w", err)
		}
		return fmt.Errorf("store: save activeflow: %w", ErrStale)
	}
	a.Version++
	a.TMUpdate = &now
	a.ClaimUntil, a.claimed = nil, false
	return nil
}

// Now is the store's clock, in UTC to the microsecond: the time of anything written now.
func (s *Store) Now() time.Time { return s.timestamp() }
