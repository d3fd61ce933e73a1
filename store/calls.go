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
	"gorm.io/gorm/clause"
)

// Call statuses, as VoIPbin's.
const (
	CallDialing     = "dialing"
	CallRinging     = "ringing"
	CallProgressing = "progressing"
	CallTerminating = "terminating"
	CallCanceling   = "canceling"
	CallHangup      = "hangup"
)

// Recording statuses.
const (
	RecordingRecording = "recording"
	RecordingEnded     = "ended"
)

// Address is a party of a call, as VoIPbin's address; kept as JSON.
type Address struct {
	Type       string `json:"type"`
	Target     string `json:"target"`
	TargetName string `json:"target_name"`
	Name       string `json:"name"`
	Detail     string `json:"detail"`
}

// Value encodes the address as JSON text.
func (a Address) Value() (driver.Value, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode address: %w", err)
	}
	return string(b), nil
}

// Scan decodes an address read from the database.
func (a *Address) Scan(src any) error { return scanJSON(src, a) }

// IDList is a list of ids kept as a JSON array.
type IDList []uuid.UUID

// Value encodes the list as JSON text ("[]" when empty).
func (l IDList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]uuid.UUID(l))
	if err != nil {
		return nil, fmt.Errorf("encode id list: %w", err)
	}
	return string(b), nil
}

// Scan decodes a list read from the database.
func (l *IDList) Scan(src any) error {
	if err := scanJSON(src, (*[]uuid.UUID)(l)); err != nil {
		return err
	}
	if *l == nil {
		*l = IDList{}
	}
	return nil
}

func scanJSON(src, dst any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	case nil:
		return nil
	default:
		return fmt.Errorf("scan json: unsupported type %T", src)
	}
	return json.Unmarshal(b, dst)
}

// Call is a phone call that flowbin answered or placed.
type Call struct {
	ID            uuid.UUID  `gorm:"column:id;primaryKey"`
	CustomerID    uuid.UUID  `gorm:"column:customer_id"`
	FlowID        *uuid.UUID `gorm:"column:flow_id"`
	ActiveflowID  *uuid.UUID `gorm:"column:activeflow_id"`
	Direction     string     `gorm:"column:direction"`
	Source        Address    `gorm:"column:source"`
	Destination   Address    `gorm:"column:destination"`
	Status        string     `gorm:"column:status"`
	HangupBy      string     `gorm:"column:hangup_by"`
	HangupReason  string     `gorm:"column:hangup_reason"`
	RecordingID   *uuid.UUID `gorm:"column:recording_id"` // the recording in progress, if any
	RecordingIDs  IDList     `gorm:"column:recording_ids"`
	TMRinging     *time.Time `gorm:"column:tm_ringing"`
	TMProgressing *time.Time `gorm:"column:tm_progressing"`
	TMHangup      *time.Time `gorm:"column:tm_hangup"`
	TMCreate      time.Time  `gorm:"column:tm_create"`
	TMUpdate      *time.Time `gorm:"column:tm_update"`
	TMDelete      *time.Time `gorm:"column:tm_delete"`
	// RunnerID is the runner (one per instance) that carries the call, and LeaseUntil how long its lease holds:
	// the runner renews it while the call is up (RenewCallLeases); a call whose lease expired lost its runner.
	RunnerID   *uuid.UUID `gorm:"column:runner_id"`
	LeaseUntil *time.Time `gorm:"column:lease_until"`
}

// TableName tells GORM the table.
func (Call) TableName() string { return "calls" }

// Ended reports whether the call has hung up.
func (c *Call) Ended() bool { return c.Status == CallHangup }

func liveCalls(customerID uuid.UUID) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		return db.Model(&Call{}).Where("customer_id = ? AND tm_delete IS NULL", customerID)
	}
}

// CreateCall stores a new call; it gets an id unless it has one, and tm_create.
func (s *Store) CreateCall(ctx context.Context, c *Call) error {
	if c.ID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("store: create call: %w", err)
		}
		c.ID = id
	}
	if c.RecordingIDs == nil {
		c.RecordingIDs = IDList{}
	}
	c.TMCreate = s.timestamp()
	if err := s.conn(ctx).Create(c).Error; err != nil {
		return fmt.Errorf("store: create call: %w", classify(err))
	}
	return nil
}

// SaveCall writes what may change of a call: its flow and activeflow, status, hangup, recordings and times.
func (s *Store) SaveCall(ctx context.Context, c *Call) error {
	now := s.timestamp()
	res := s.conn(ctx).Model(&Call{}).Where("id = ? AND customer_id = ?", c.ID, c.CustomerID).
		Updates(map[string]any{"flow_id": c.FlowID, "activeflow_id": c.ActiveflowID, "status": c.Status,
			"hangup_by": c.HangupBy, "hangup_reason": c.HangupReason, "recording_id": c.RecordingID,
			"recording_ids": c.RecordingIDs, "tm_ringing": c.TMRinging, "tm_progressing": c.TMProgressing,
			"tm_hangup": c.TMHangup, "tm_update": now})
	if res.Error != nil {
		return fmt.Errorf("store: save call: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: save call: %w", notFound("call", c.ID))
	}
	c.TMUpdate = &now
	return nil
}

// GetCall reads a call of the customer.
func (s *Store) GetCall(ctx context.Context, customerID, id uuid.UUID) (*Call, error) {
	c, err := getOne[Call](liveCalls(customerID)(s.conn(ctx)).Where("id = ?", id), "call", id.String())
	if err != nil {
		return nil, fmt.Errorf("store: get call: %w", err)
	}
	return c, nil
}

// ListCalls reads one page of the customer's calls, newest first.
func (s *Store) ListCalls(ctx context.Context, customerID uuid.UUID, p Page) ([]Call, error) {
	list, err := listPage(s.conn(ctx), liveCalls(customerID), p, func(c *Call) time.Time { return c.TMCreate })
	if err != nil {
		return nil, fmt.Errorf("store: list calls: %w", err)
	}
	return list, nil
}

// RequestCallHangup asks for a call of the customer to be hung up, by whichever instance holds it: a call that has
// not ended moves to terminating (canceling, for an outgoing call not yet answered) and the request is announced,
// once committed, to every instance's CallChangeListener (HangupRequested). An ended call stays as it is. It
// answers the call as it is now.
func (s *Store) RequestCallHangup(ctx context.Context, customerID, id uuid.UUID) (*Call, error) {
	return s.markHangup(ctx, customerID, id, true)
}

// MarkCallTerminating is RequestCallHangup for the instance that holds the call and is hanging it up: the call
// says so at once, and nobody else is told.
func (s *Store) MarkCallTerminating(ctx context.Context, customerID, id uuid.UUID) (*Call, error) {
	return s.markHangup(ctx, customerID, id, false)
}

func (s *Store) markHangup(ctx context.Context, customerID, id uuid.UUID, announce bool) (*Call, error) {
	var out *Call
	err := s.InTx(ctx, func(ctx context.Context) error {
		q := liveCalls(customerID)(s.conn(ctx)).Where("id = ?", id)
		if s.dialect == Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var c Call
		if err := q.Take(&c).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return notFound("call", id)
		} else if err != nil {
			return classify(err)
		}
		out = &c
		if c.Ended() {
			return nil
		}
		if c.Status != CallTerminating && c.Status != CallCanceling {
			c.Status = CallTerminating
			if c.TMProgressing == nil && c.Direction == "outgoing" {
				c.Status = CallCanceling
			}
			if err := s.SaveCall(ctx, &c); err != nil {
				return err
			}
		}
		if !announce {
			return nil
		}
		return s.announceHangup(ctx, c.ID)
	})
	if err != nil {
		return nil, fmt.Errorf("store: request call hangup: %w", err)
	}
	return out, nil
}

// RenewCallLeases extends to until the lease of every call of the runner that has not hung up, in one UPDATE
// whatever their number. It answers how many calls it renewed.
func (s *Store) RenewCallLeases(ctx context.Context, runnerID uuid.UUID, until time.Time) (int64, error) {
	res := s.conn(ctx).Model(&Call{}).Where("runner_id = ? AND status <> ?", runnerID, CallHangup).
		Update("lease_until", until.UTC().Truncate(time.Microsecond))
	if res.Error != nil {
		return 0, fmt.Errorf("store: renew call leases: %w", classify(res.Error))
	}
	return res.RowsAffected, nil
}

// ExpiredCalls lists, oldest first, up to limit calls that have not hung up and whose lease expired: their
// runner is gone.
func (s *Store) ExpiredCalls(ctx context.Context, limit int) ([]Call, error) {
	var list []Call
	err := s.conn(ctx).Model(&Call{}).Where("status <> ? AND lease_until < ?", CallHangup, s.timestamp()).
		Order("tm_create, id").Limit(limit).Find(&list).Error
	if err != nil {
		return nil, fmt.Errorf("store: expired calls: %w", classify(err))
	}
	return list, nil
}

// ClaimExpiredCall hangs up a call whose lease has expired (hangup_by local, the reason given), in the
// transaction of ctx, if it still has not hung up and its lease is still expired when the row is written: of
// instances that try at once, exactly one gets true, and only that one may write what follows (events, the
// activeflow's end). It answers the call as it is then.
func (s *Store) ClaimExpiredCall(ctx context.Context, id uuid.UUID, reason string) (*Call, bool, error) {
	now := s.timestamp()
	res := s.conn(ctx).Model(&Call{}).
		Where("id = ? AND status <> ? AND lease_until < ?", id, CallHangup, now).
		Updates(map[string]any{"status": CallHangup, "hangup_by": "local", "hangup_reason": reason,
			"tm_hangup": now, "tm_update": now})
	if res.Error != nil {
		return nil, false, fmt.Errorf("store: claim expired call: %w", classify(res.Error))
	}
	c, err := s.CallByID(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return c, res.RowsAffected == 1, nil
}

// Recording is a recording of a call; Path is its file, relative to the data directory.
type Recording struct {
	ID           uuid.UUID  `gorm:"column:id;primaryKey"`
	CustomerID   uuid.UUID  `gorm:"column:customer_id"`
	CallID       uuid.UUID  `gorm:"column:call_id"`
	ActiveflowID *uuid.UUID `gorm:"column:activeflow_id"`
	Status       string     `gorm:"column:status"`
	Format       string     `gorm:"column:format"`
	Path         string     `gorm:"column:path"`
	TMStart      time.Time  `gorm:"column:tm_start"`
	TMEnd        *time.Time `gorm:"column:tm_end"`
	TMCreate     time.Time  `gorm:"column:tm_create"`
	TMUpdate     *time.Time `gorm:"column:tm_update"`
	TMDelete     *time.Time `gorm:"column:tm_delete"`
}

// TableName tells GORM the table.
func (Recording) TableName() string { return "recordings" }

func liveRecordings(customerID uuid.UUID) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		return db.Model(&Recording{}).Where("customer_id = ? AND tm_delete IS NULL", customerID)
	}
}

// CreateRecording stores a new recording; it gets an id unless it has one, and tm_create.
func (s *Store) CreateRecording(ctx context.Context, r *Recording) error {
	if r.ID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("store: create recording: %w", err)
		}
		r.ID = id
	}
	r.TMCreate = s.timestamp()
	if r.TMStart.IsZero() {
		r.TMStart = r.TMCreate
	}
	if err := s.conn(ctx).Create(r).Error; err != nil {
		return fmt.Errorf("store: create recording: %w", classify(err))
	}
	return nil
}

// SaveRecording writes a recording's status, end and path.
func (s *Store) SaveRecording(ctx context.Context, r *Recording) error {
	now := s.timestamp()
	res := s.conn(ctx).Model(&Recording{}).Where("id = ? AND customer_id = ?", r.ID, r.CustomerID).
		Updates(map[string]any{"status": r.Status, "tm_end": r.TMEnd, "path": r.Path, "tm_update": now,
			"tm_delete": r.TMDelete})
	if res.Error != nil {
		return fmt.Errorf("store: save recording: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: save recording: %w", notFound("recording", r.ID))
	}
	r.TMUpdate = &now
	return nil
}

// GetRecording reads a recording of the customer.
func (s *Store) GetRecording(ctx context.Context, customerID, id uuid.UUID) (*Recording, error) {
	r, err := getOne[Recording](liveRecordings(customerID)(s.conn(ctx)).Where("id = ?", id), "recording", id.String())
	if err != nil {
		return nil, fmt.Errorf("store: get recording: %w", err)
	}
	return r, nil
}

// ListRecordings reads one page of the customer's recordings, newest first.
func (s *Store) ListRecordings(ctx context.Context, customerID uuid.UUID, p Page) ([]Recording, error) {
	list, err := listPage(s.conn(ctx), liveRecordings(customerID), p, func(r *Recording) time.Time { return r.TMCreate })
	if err != nil {
		return nil, fmt.Errorf("store: list recordings: %w", err)
	}
	return list, nil
}

// OpenRecordings reads the recordings of a call that have not ended.
func (s *Store) OpenRecordings(ctx context.Context, customerID, callID uuid.UUID) ([]Recording, error) {
	var list []Recording
	err := liveRecordings(customerID)(s.conn(ctx)).Where("call_id = ? AND status <> ?", callID, RecordingEnded).
		Order("tm_create, id").Find(&list).Error
	if err != nil {
		return nil, fmt.Errorf("store: open recordings: %w", classify(err))
	}
	return list, nil
}

// CallByID reads a call whatever its customer (for an instance told to hang it up, which knows only its id).
func (s *Store) CallByID(ctx context.Context, id uuid.UUID) (*Call, error) {
	c, err := getOne[Call](s.conn(ctx).Where("id = ?", id), "call", id.String())
	if err != nil {
		return nil, fmt.Errorf("store: call by id: %w", err)
	}
	return c, nil
}
