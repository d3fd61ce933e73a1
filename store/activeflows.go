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
	return s.WriteActiveflows(ctx, nil, ActiveflowChange{A: a, Create: true})
}

// GetActiveflow reads an activeflow of the customer, ready to run: its hot state, with the actions of its frames.
// Its State.Executed holds the actions it ran that are not rows yet (those of a version 1 state); the others
// LoadActiveflowHistory reads.
func (s *Store) GetActiveflow(ctx context.Context, customerID, id uuid.UUID) (*Activeflow, error) {
	ok, got, err := s.getActiveflowPgx(ctx, customerID, id)
	if !ok {
		err = liveActiveflows(customerID)(s.conn(ctx)).Where("id = ?", id).Take(got).Error
	}
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store: get activeflow: %w", notFound("activeflow", id))
	}
	if err == nil {
		err = s.resolveFrames(ctx, got)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get activeflow: %w", classify(err))
	}
	return got, nil
}

// ListActiveflows reads one page of the customer's activeflows, newest first, each with its whole history (its
// frames' actions are not read: a page is not run).
func (s *Store) ListActiveflows(ctx context.Context, customerID uuid.UUID, p Page) ([]Activeflow, error) {
	list, err := listPage(s.conn(ctx), liveActiveflows(customerID), p, func(a *Activeflow) time.Time { return a.TMCreate })
	if err == nil {
		err = s.loadHistories(ctx, list)
	}
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
	return s.WriteActiveflows(ctx, nil, ActiveflowChange{A: a})
}

// ActiveflowChange is one activeflow's change as the store writes it: its row, created or saved at the version
// read (as CreateActiveflow and SaveActiveflow), with what its state stores beside it (the stored format version
// 2: the action lists of new frames, the actions executed since it was read, appended as rows) and the outbox
// messages it owes (EnqueueOutbox's, with its cap).
type ActiveflowChange struct {
	A        *Activeflow
	Create   bool
	Messages []OutboxMessage
	// Owes, when not nil, adds to Messages those made from the activeflow as it is written (its tm_update).
	Owes func(a *Activeflow) ([]OutboxMessage, error)
}

// errNotWritten is a save whose condition (the version read, no claim of another's) held no row.
var errNotWritten = errors.New("not written")

// WriteActiveflows writes changes, all or none; notify, when not nil, runs once they committed with messages.
// On PostgreSQL a lone change outside a transaction of ctx (a call's start, a step) is one statement
// (prepared_postgres.go); else they are one transaction, ctx's when it carries one. A save whose activeflow
// changed or is claimed since it was read is ErrStale; a create of an id that exists, ErrConflict.
func (s *Store) WriteActiveflows(ctx context.Context, notify func(), changes ...ActiveflowChange) (err error) {
	now := s.timestamp()
	for _, c := range changes {
		a := c.A
		if c.Create {
			if a.ID == uuid.Nil {
				id, err := uuid.NewV7()
				if err != nil {
					return fmt.Errorf("store: create activeflow: %w", err)
				}
				a.ID = id
			}
			a.Version, a.TMCreate, a.Status = 1, now, ActiveflowRunning
		}
		a.sync(now)
	}
	// A save's tm_update is its write's time, which its messages tell; put back should the write fail.
	before := make([]*time.Time, len(changes))
	for i := range changes {
		c := &changes[i]
		if !c.Create {
			before[i], c.A.TMUpdate = c.A.TMUpdate, &now
		}
		if c.Owes != nil {
			msgs, err := c.Owes(c.A)
			if err != nil {
				return err
			}
			c.Messages = append(c.Messages, msgs...)
		}
	}
	defer func() {
		if err != nil {
			for i, c := range changes {
				if !c.Create {
					c.A.TMUpdate = before[i]
				}
			}
		}
	}()
	what := "save activeflow"
	if len(changes) == 1 && changes[0].Create {
		what = "create activeflow"
	}
	var ok bool
	if len(changes) == 1 {
		ok, err = s.writeActiveflowPgx(ctx, changes[0], now, notify)
	}
	if !ok {
		err = s.InTx(ctx, func(ctx context.Context) error {
			var msgs []OutboxMessage
			for _, c := range changes {
				if err := s.writeActiveflow(ctx, c, now); err != nil {
					return err
				}
				msgs = append(msgs, c.Messages...)
			}
			return s.EnqueueOutbox(ctx, msgs, notify)
		})
	}
	if errors.Is(err, errNotWritten) {
		for _, c := range changes {
			if c.Create {
				continue
			}
			if _, gerr := s.GetActiveflow(Outside(ctx), c.A.CustomerID, c.A.ID); gerr != nil {
				return fmt.Errorf("store: %s: %w", what, gerr)
			}
		}
		err = ErrStale
	}
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, classify(err))
	}
	for _, c := range changes {
		a := c.A
		a.State.Saved()
		if !c.Create {
			a.Version++
			a.TMUpdate = &now
			a.ClaimUntil, a.claimed = nil, false
		}
	}
	return nil
}

// writeActiveflow is one change through GORM, in the transaction of ctx.
func (s *Store) writeActiveflow(ctx context.Context, c ActiveflowChange, now time.Time) error {
	a := c.A
	if c.Create {
		if err := s.conn(ctx).Create(a).Error; err != nil {
			return err
		}
	} else {
		q := liveActiveflows(a.CustomerID)(s.conn(ctx)).Where("id = ? AND version = ?", a.ID, a.Version)
		if !a.claimed {
			q = q.Where("(claim_until IS NULL OR claim_until <= ?)", now)
		}
		res := q.Updates(map[string]any{"status": a.Status, "end_reason": a.EndReason, "state": a.State,
			"version": a.Version + 1, "tm_update": now, "tm_end": a.TMEnd, "tm_delete": a.TMDelete,
			"on_complete_activeflow_id": a.OnCompleteActiveflowID, "on_complete_error": a.OnCompleteError, "claim_until": nil})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errNotWritten
		}
	}
	if frames := frameRows(a); len(frames) > 0 {
		if err := s.conn(ctx).Create(&frames).Error; err != nil {
			return err
		}
	}
	rows, err := actionRows(a)
	if err != nil {
		return err
	}
	return s.AppendActiveflowActions(ctx, rows)
}

// Now is the store's clock, in UTC to the microsecond: the time of anything written now.
func (s *Store) Now() time.Time { return s.timestamp() }
