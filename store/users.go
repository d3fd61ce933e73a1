package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// User can log in. Every user belongs to one customer and acts for it.
type User struct {
	ID           uuid.UUID  `gorm:"column:id;primaryKey"`
	CustomerID   uuid.UUID  `gorm:"column:customer_id"`
	Username     string     `gorm:"column:username"`
	PasswordHash string     `gorm:"column:password_hash"`
	TMCreate     time.Time  `gorm:"column:tm_create"`
	TMUpdate     *time.Time `gorm:"column:tm_update"`
}

// TableName tells GORM the table.
func (User) TableName() string { return "users" }

// UserWithCustomer is a user and the name of its customer, for listings.
type UserWithCustomer struct {
	User
	CustomerName string `gorm:"column:customer_name"`
}

// CreateUser adds a user to the named customer, creating the customer when it is new. A taken username is
// ErrConflict.
func (s *Store) CreateUser(ctx context.Context, customerName, username, passwordHash string) (*User, error) {
	var u *User
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		c, err := ensureCustomer(ctx, tx, customerName, s.timestamp())
		if err != nil {
			return err
		}
		u, err = createUser(tx, c.ID, username, passwordHash, s.timestamp())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: create user: %w", classify(err))
	}
	return u, nil
}

func createUser(tx *gorm.DB, customerID uuid.UUID, username, passwordHash string, now time.Time) (*User, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	u := &User{ID: id, CustomerID: customerID, Username: username, PasswordHash: passwordHash, TMCreate: now}
	if err := tx.Create(u).Error; err != nil {
		return nil, classify(err)
	}
	return u, nil
}

// Bootstrap creates the first user, with its customer, when the store has no user at all. It reports whether it
// created one. Instances that start together on one database create at most one.
func (s *Store) Bootstrap(ctx context.Context, customerName, username, passwordHash string) (bool, error) {
	var count int64
	if err := s.conn(ctx).Model(&User{}).Count(&count).Error; err != nil {
		return false, fmt.Errorf("store: bootstrap: %w", classify(err))
	}
	if count > 0 {
		return false, nil
	}
	_, err := s.CreateUser(ctx, customerName, username, passwordHash)
	if errors.Is(err, ErrConflict) {
		return false, nil // another instance won the race
	}
	if err != nil {
		return false, fmt.Errorf("store: bootstrap: %w", err)
	}
	return true, nil
}

// UserByUsername reads a user.
func (s *Store) UserByUsername(ctx context.Context, username string) (*User, error) {
	var u User
	err := s.conn(ctx).Where("username = ?", username).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("store: user by name: %w", &NotFoundError{Resource: "user", ID: username})
	}
	if err != nil {
		return nil, fmt.Errorf("store: user by name: %w", classify(err))
	}
	return &u, nil
}

// ListUsers reads every user with its customer's name, by username.
func (s *Store) ListUsers(ctx context.Context) ([]UserWithCustomer, error) {
	var users []UserWithCustomer
	err := s.conn(ctx).Table("users").
		Select("users.*, customers.name AS customer_name").
		Joins("JOIN customers ON customers.id = users.customer_id").
		Order("users.username").Find(&users).Error
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", classify(err))
	}
	return users, nil
}

// SetPassword replaces a user's password hash.
func (s *Store) SetPassword(ctx context.Context, username, passwordHash string) error {
	res := s.conn(ctx).Model(&User{}).Where("username = ?", username).
		Updates(map[string]any{"password_hash": passwordHash, "tm_update": s.timestamp()})
	if res.Error != nil {
		return fmt.Errorf("store: set password: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: set password: %w", &NotFoundError{Resource: "user", ID: username})
	}
	return nil
}

// GetUser reads a user of the customer by id.
func (s *Store) GetUser(ctx context.Context, customerID, id uuid.UUID) (*User, error) {
	var u User
	err := s.conn(ctx).Where("customer_id = ? AND id = ?", customerID, id).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("store: get user: %w", notFound("user", id))
	}
	if err != nil {
		return nil, fmt.Errorf("store: get user: %w", classify(err))
	}
	return &u, nil
}
