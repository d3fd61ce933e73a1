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

// Idempotency record states.
const (
	IdempotencyPending = "pending" // the first request with the key is running
	IdempotencyDone    = "done"    // its answer is stored
)

// IdempotencyRecord is the first answer to a request with an Idempotency-Key, kept for replays. It lives in the
// database, so that every instance replays it.
type IdempotencyRecord struct {
	CustomerID     uuid.UUID `gorm:"column:customer_id;primaryKey"`
	Operation      string    `gorm:"column:operation;primaryKey"`
	Key            string    `gorm:"column:key;primaryKey"`
	RequestHash    string    `gorm:"column:request_hash"`
	State          string    `gorm:"column:state"`
	ResponseStatus int       `gorm:"column:response_status"`
	ResponseHeader string    `gorm:"column:response_header"`
	ResponseBody   []byte    `gorm:"column:response_body"`
	TMLock         time.Time `gorm:"column:tm_lock"`
	TMExpire       time.Time `gorm:"column:tm_expire"`
}

// TableName tells GORM the table.
func (IdempotencyRecord) TableName() string { return "idempotency_keys" }

// IdempotencyKey names a record: the key is the caller's, per operation (such as "POST /v1.0/flows").
type IdempotencyKey struct {
	CustomerID uuid.UUID
	Operation  string
	Key        string
}

func (k IdempotencyKey) where(db *gorm.DB) *gorm.DB {
	return db.Where("customer_id = ? AND operation = ? AND key = ?", k.CustomerID, k.Operation, k.Key)
}

// ClaimIdempotencyKey takes the key for a new request, unless a live record holds it. It answers the record and
// false when the key is taken: by a finished request (replay its answer) or by one still running. A pending
// claim older than lease is abandoned (its request died before finishing, writing nothing) and is taken over.
// Records live for ttl.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, k IdempotencyKey, requestHash string, ttl, lease time.Duration) (*IdempotencyRecord, bool, error) {
	now := s.timestamp()
	db := s.conn(ctx)
	// An expired record is as good as none.
	if err := k.where(db).Where("tm_expire < ?", now).Delete(&IdempotencyRecord{}).Error; err != nil {
		return nil, false, fmt.Errorf("store: claim idempotency key: %w", classify(err))
	}
	rec := &IdempotencyRecord{CustomerID: k.CustomerID, Operation: k.Operation, Key: k.Key, RequestHash: requestHash,
		State: IdempotencyPending, TMLock: now, TMExpire: now.Add(ttl)}
	res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(rec)
	if res.Error != nil {
		return nil, false, fmt.Errorf("store: claim idempotency key: %w", classify(res.Error))
	}
	if res.RowsAffected == 1 {
		return rec, true, nil
	}
	cur, err := s.GetIdempotencyRecord(ctx, k)
	if errors.Is(err, ErrNotFound) {
		return s.ClaimIdempotencyKey(ctx, k, requestHash, ttl, lease) // released meanwhile
	}
	if err != nil {
		return nil, false, err
	}
	if cur.State == IdempotencyPending && cur.RequestHash == requestHash && cur.TMLock.Before(now.Add(-lease)) {
		res := k.where(db).Model(&IdempotencyRecord{}).
			Where("state = ? AND tm_lock = ?", IdempotencyPending, cur.TMLock).
			Updates(map[string]any{"tm_lock": now, "tm_expire": now.Add(ttl)})
		if res.Error != nil {
			return nil, false, fmt.Errorf("store: take over idempotency key: %w", classify(res.Error))
		}
		if res.RowsAffected == 1 {
			cur.TMLock, cur.TMExpire = now, now.Add(ttl)
			return cur, true, nil
		}
	}
	return cur, false, nil
}

// GetIdempotencyRecord reads a record.
func (s *Store) GetIdempotencyRecord(ctx context.Context, k IdempotencyKey) (*IdempotencyRecord, error) {
	rec, err := getOne[IdempotencyRecord](k.where(s.conn(ctx)), "idempotency key", k.Key)
	if err != nil {
		return nil, fmt.Errorf("store: idempotency record: %w", err)
	}
	return rec, nil
}

// CompleteIdempotencyKey stores the answer of the request that claimed the key. Called in the transaction of the
// request's own writes, it commits with them or not at all: a retry can never repeat a write that was done.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, k IdempotencyKey, status int, header string, body []byte) error {
	res := k.where(s.conn(ctx)).Model(&IdempotencyRecord{}).Where("state = ?", IdempotencyPending).
		Updates(map[string]any{"state": IdempotencyDone, "response_status": status, "response_header": header,
			"response_body": body})
	if res.Error != nil {
		return fmt.Errorf("store: complete idempotency key: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: complete idempotency key: %w", &NotFoundError{Resource: "idempotency key", ID: k.Key})
	}
	return nil
}

// ReleaseIdempotencyKey drops a pending claim whose request failed without writing, so that a retry runs afresh.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, k IdempotencyKey) error {
	err := k.where(s.conn(ctx)).Where("state = ?", IdempotencyPending).Delete(&IdempotencyRecord{}).Error
	if err != nil {
		return fmt.Errorf("store: release idempotency key: %w", classify(err))
	}
	return nil
}
