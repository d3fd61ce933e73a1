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
	ID           uuid.UUID `gorm:"column:id;primaryKey"`
	CustomerID   uuid.UUID `gorm:"column:customer_id"`
	Username     string    `gorm:"column:username"`
	PasswordHash string    `gorm:"column:password_hash"`
	// TokenGeneration is written into every login token; bumping it revokes the tokens issued before.
	TokenGeneration int        `gorm:"column:token_generation"`
	TMDisable       *time.Time `gorm:"column:tm_disable"` // set: the user may not log in, nor use their keys
	TMCreate        time.Time  `gorm:"column:tm_create"`
	TMUpdate        *time.Time `gorm:"column:tm_update"`
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
	u, err := getOne[User](s.conn(ctx).Where("username = ?", username), "user", username)
	if err != nil {
		return nil, fmt.Errorf("store: user by name: %w", err)
	}
	return u, nil
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

// SetPassword replaces a user's password hash, and revokes every login token issued to the user before.
func (s *Store) SetPassword(ctx context.Context, username, passwordHash string) error {
	return s.updateUser(ctx, "set password", username, map[string]any{"password_hash": passwordHash})
}

// LogoutUser revokes every login token issued to the user so far. Access keys are unaffected.
func (s *Store) LogoutUser(ctx context.Context, username string) error {
	return s.updateUser(ctx, "log out user", username, nil)
}

// DisableUser revokes the user's login tokens, refuses their logins, and refuses the access keys they created,
// until EnableUser.
func (s *Store) DisableUser(ctx context.Context, username string) error {
	return s.updateUser(ctx, "disable user", username, map[string]any{"tm_disable": s.timestamp()})
}

// EnableUser lets a disabled user log in again (with a new token: the old ones stay revoked), and their access
// keys work again.
func (s *Store) EnableUser(ctx context.Context, username string) error {
	return s.updateUser(ctx, "enable user", username, map[string]any{"tm_disable": nil})
}

// updateUser changes a user and bumps their token generation, in one statement, and has the change heard by
// every instance: by this one's listeners once it commits, by the others through the trigger of migration 00006.
func (s *Store) updateUser(ctx context.Context, what, username string, changes map[string]any) error {
	set := map[string]any{"token_generation": gorm.Expr("token_generation + 1"), "tm_update": s.timestamp()}
	for k, v := range changes {
		set[k] = v
	}
	var ids []uuid.UUID
	res := s.conn(ctx).Model(&User{}).Where("username = ?", username).Updates(set)
	if res.Error != nil {
		return fmt.Errorf("store: %s: %w", what, classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: %s: %w", what, &NotFoundError{Resource: "user", ID: username})
	}
	if err := s.conn(ctx).Model(&User{}).Where("username = ?", username).Pluck("id", &ids).Error; err != nil {
		return fmt.Errorf("store: %s: %w", what, classify(err))
	}
	for _, id := range ids {
		s.userChanged(ctx, id)
	}
	return nil
}

// GetUser reads a user of the customer by id.
func (s *Store) GetUser(ctx context.Context, customerID, id uuid.UUID) (*User, error) {
	u, err := getOne[User](s.conn(ctx).Where("customer_id = ? AND id = ?", customerID, id), "user", id.String())
	if err != nil {
		return nil, fmt.Errorf("store: get user: %w", err)
	}
	return u, nil
}

// DeleteUser removes a user: their login tokens stop working at once, and so do the access keys they created.
// The customer and its flows stay.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	u, err := s.UserByUsername(ctx, username)
	if err != nil {
		return fmt.Errorf("store: delete user: %w", err)
	}
	res := s.conn(ctx).Where("id = ?", u.ID).Delete(&User{})
	if res.Error != nil {
		return fmt.Errorf("store: delete user: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: delete user: %w", &NotFoundError{Resource: "user", ID: username})
	}
	s.userChanged(ctx, u.ID)
	return nil
}

// UserTokenState is what decides whether a user's login token is still good.
type UserTokenState struct {
	Generation int
	Disabled   bool
}

// UserTokenState reads the token generation of a user, and whether they are disabled. A removed user is
// ErrNotFound.
func (s *Store) UserTokenState(ctx context.Context, id uuid.UUID) (UserTokenState, error) {
	u, err := getOne[User](s.conn(ctx).Select("token_generation", "tm_disable").Where("id = ?", id), "user", id.String())
	if err != nil {
		return UserTokenState{}, fmt.Errorf("store: user token state: %w", err)
	}
	return UserTokenState{Generation: u.TokenGeneration, Disabled: u.TMDisable != nil}, nil
}
