package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// AccessKey is a long-lived credential of a customer. Only the SHA-256 hash of the raw key is stored.
type AccessKey struct {
	ID          uuid.UUID `gorm:"column:id;primaryKey"`
	CustomerID  uuid.UUID `gorm:"column:customer_id"`
	Name        string    `gorm:"column:name"`
	Detail      string    `gorm:"column:detail"`
	TokenHash   string    `gorm:"column:token_hash"`
	TokenPrefix string    `gorm:"column:token_prefix"`
	// UserID is who created the key (nil: created before flowbin recorded it). The key stops working while that
	// user is disabled, and once they are removed.
	UserID   *uuid.UUID `gorm:"column:user_id"`
	TMExpire time.Time  `gorm:"column:tm_expire"`
	TMCreate time.Time  `gorm:"column:tm_create"`
	TMUpdate *time.Time `gorm:"column:tm_update"`
	TMDelete *time.Time `gorm:"column:tm_delete"`
}

// TableName tells GORM the table.
func (AccessKey) TableName() string { return "accesskeys" }

func liveAccessKeys(customerID uuid.UUID) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		return db.Model(&AccessKey{}).Where("customer_id = ? AND tm_delete IS NULL", customerID)
	}
}

// NewAccessKey is what a caller decides about a new key: the store sets id and timestamps.
type NewAccessKey struct {
	CustomerID  uuid.UUID
	Name        string
	Detail      string
	TokenHash   string
	TokenPrefix string
	Lifetime    time.Duration
	UserID      uuid.UUID // who creates it; uuid.Nil: nobody recorded
}

// CreateAccessKey stores a new access key.
func (s *Store) CreateAccessKey(ctx context.Context, n NewAccessKey) (*AccessKey, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("store: create access key: %w", err)
	}
	now := s.timestamp()
	k := &AccessKey{
		ID: id, CustomerID: n.CustomerID, Name: n.Name, Detail: n.Detail,
		TokenHash: n.TokenHash, TokenPrefix: n.TokenPrefix,
		TMExpire: now.Add(n.Lifetime), TMCreate: now,
	}
	if n.UserID != uuid.Nil {
		k.UserID = &n.UserID
	}
	if err := s.conn(ctx).Create(k).Error; err != nil {
		return nil, fmt.Errorf("store: create access key: %w", classify(err))
	}
	return k, nil
}

// GetAccessKey reads an access key of the customer that is not deleted (it may have expired).
func (s *Store) GetAccessKey(ctx context.Context, customerID, id uuid.UUID) (*AccessKey, error) {
	k, err := getOne[AccessKey](liveAccessKeys(customerID)(s.conn(ctx)).Where("id = ?", id), "accesskey", id.String())
	if err != nil {
		return nil, fmt.Errorf("store: get access key: %w", err)
	}
	return k, nil
}

// ListAccessKeys reads one page of the customer's access keys, newest first.
func (s *Store) ListAccessKeys(ctx context.Context, customerID uuid.UUID, p Page) ([]AccessKey, error) {
	keys, err := listPage(s.conn(ctx), liveAccessKeys(customerID), p,
		func(k *AccessKey) time.Time { return k.TMCreate })
	if err != nil {
		return nil, fmt.Errorf("store: list access keys: %w", err)
	}
	return keys, nil
}

// UpdateAccessKey replaces the name and detail of an access key of the customer.
func (s *Store) UpdateAccessKey(ctx context.Context, customerID, id uuid.UUID, name, detail string) (*AccessKey, error) {
	res := liveAccessKeys(customerID)(s.conn(ctx)).Where("id = ?", id).
		Updates(map[string]any{"name": name, "detail": detail, "tm_update": s.timestamp()})
	if res.Error != nil {
		return nil, fmt.Errorf("store: update access key: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("store: update access key: %w", notFound("accesskey", id))
	}
	return s.GetAccessKey(ctx, customerID, id)
}

// DeleteAccessKey deletes an access key of the customer. It stops authenticating at once.
func (s *Store) DeleteAccessKey(ctx context.Context, customerID, id uuid.UUID) error {
	res := liveAccessKeys(customerID)(s.conn(ctx)).Where("id = ?", id).Update("tm_delete", s.timestamp())
	if res.Error != nil {
		return fmt.Errorf("store: delete access key: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: delete access key: %w", notFound("accesskey", id))
	}
	return nil
}

// AccessKeyByHash finds the live, unexpired access key with the given token hash, unless the user who created it
// is disabled or removed.
func (s *Store) AccessKeyByHash(ctx context.Context, tokenHash string) (*AccessKey, error) {
	q := s.conn(ctx).Table("accesskeys").Select("accesskeys.*").
		Joins("LEFT JOIN users ON users.id = accesskeys.user_id").
		Where("accesskeys.token_hash = ? AND accesskeys.tm_delete IS NULL AND accesskeys.tm_expire > ?", tokenHash, s.timestamp()).
		Where("accesskeys.user_id IS NULL OR (users.id IS NOT NULL AND users.tm_disable IS NULL)")
	k, err := getOne[AccessKey](q, "accesskey", "") // never echo the hash
	if err != nil {
		return nil, fmt.Errorf("store: access key by hash: %w", err)
	}
	return k, nil
}
