package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Customer owns flows, access keys and users. Customers never see each other's resources.
type Customer struct {
	ID uuid.UUID `gorm:"column:id;primaryKey"`
	// Name is the operator's name for the customer (`flowbin user add --customer`); it never changes.
	Name     string    `gorm:"column:name"`
	TMCreate time.Time `gorm:"column:tm_create"`
	Profile
}

// Profile is what a customer says of itself through the API, as VoIPbin's customer has it. DisplayName is nil
// until the customer sets a name.
type Profile struct {
	DisplayName *string `gorm:"column:display_name"`
	Detail      string  `gorm:"column:detail"`
	Email       string  `gorm:"column:email"`
	PhoneNumber string  `gorm:"column:phone_number"`
	Address     string  `gorm:"column:address"`
}

// DisplayedName is the customer's name as the API answers it: the one it set, else the operator's.
func (c *Customer) DisplayedName() string {
	if c.DisplayName != nil {
		return *c.DisplayName
	}
	return c.Name
}

// TableName tells GORM the table.
func (Customer) TableName() string { return "customers" }

// EnsureCustomer returns the customer with the given name, creating it when it does not exist. Concurrent callers
// (also on other instances) get the same customer.
func (s *Store) EnsureCustomer(ctx context.Context, name string) (*Customer, error) {
	return ensureCustomer(ctx, s.conn(ctx), name, s.timestamp())
}

func ensureCustomer(ctx context.Context, db *gorm.DB, name string, now time.Time) (*Customer, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("store: ensure customer: %w", err)
	}
	c := Customer{ID: id, Name: name, TMCreate: now}
	err = db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}}, DoNothing: true}).Create(&c).Error
	if err != nil {
		return nil, fmt.Errorf("store: ensure customer: %w", classify(err))
	}
	var got Customer
	if err := db.Where("name = ?", name).Take(&got).Error; err != nil {
		return nil, fmt.Errorf("store: ensure customer: %w", classify(err))
	}
	return &got, nil
}

// CustomerByName reads a customer.
func (s *Store) CustomerByName(ctx context.Context, name string) (*Customer, error) {
	c, err := getOne[Customer](s.conn(ctx).Where("name = ?", name), "customer", name)
	if err != nil {
		return nil, fmt.Errorf("store: customer by name: %w", err)
	}
	return c, nil
}

// GetCustomer reads a customer by id.
func (s *Store) GetCustomer(ctx context.Context, id uuid.UUID) (*Customer, error) {
	c, err := getOne[Customer](s.conn(ctx).Where("id = ?", id), "customer", id.String())
	if err != nil {
		return nil, fmt.Errorf("store: get customer: %w", err)
	}
	return c, nil
}

// CustomerWebhook is where a customer's events go, and the secret they are signed with, sealed (see
// auth.Sealer); "" when the customer has none.
type CustomerWebhook struct {
	URI, Method  string
	SealedSecret string
	TMUpdate     *time.Time
	// EventVariables: the events of the customer's activeflows carry their variables.
	EventVariables bool
}

// customerWebhookRow is the projection of a customer's row that GetCustomerWebhook reads.
type customerWebhookRow struct {
	WebhookURI    string     `gorm:"column:webhook_uri"`
	WebhookMethod string     `gorm:"column:webhook_method"`
	WebhookSecret string     `gorm:"column:webhook_secret"`
	TMUpdate      *time.Time `gorm:"column:tm_update"`
	Variables     bool       `gorm:"column:event_variables"`
}

// GetCustomerWebhook reads a customer's webhook settings: only those columns, as every event written reads them.
func (s *Store) GetCustomerWebhook(ctx context.Context, id uuid.UUID) (*CustomerWebhook, error) {
	q := s.conn(ctx).Model(&Customer{}).Select("webhook_uri, webhook_method, webhook_secret, tm_update, event_variables").
		Where("id = ?", id)
	row, err := getOne[customerWebhookRow](q, "customer", id.String())
	if err != nil {
		return nil, fmt.Errorf("store: get customer webhook: %w", err)
	}
	return &CustomerWebhook{URI: row.WebhookURI, Method: row.WebhookMethod, SealedSecret: row.WebhookSecret, TMUpdate: row.TMUpdate,
		EventVariables: row.Variables}, nil
}

// SetCustomerEventVariables sets whether the events of a customer's activeflows carry their variables.
func (s *Store) SetCustomerEventVariables(ctx context.Context, id uuid.UUID, on bool) error {
	res := s.conn(ctx).Model(&Customer{}).Where("id = ?", id).Updates(map[string]any{"event_variables": on, "tm_update": s.timestamp()})
	if res.Error != nil {
		return fmt.Errorf("store: set customer event variables: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: set customer event variables: %w", notFound("customer", id))
	}
	return nil
}

// SetCustomerWebhook writes a customer's webhook address and method; sealedSecret, when not "", replaces its
// signing secret.
func (s *Store) SetCustomerWebhook(ctx context.Context, id uuid.UUID, uri, method, sealedSecret string) error {
	updates := map[string]any{"webhook_uri": uri, "webhook_method": method, "tm_update": s.timestamp()}
	if sealedSecret != "" {
		updates["webhook_secret"] = sealedSecret
	}
	res := s.conn(ctx).Model(&Customer{}).Where("id = ?", id).Updates(updates)
	if res.Error != nil {
		return fmt.Errorf("store: set customer webhook: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: set customer webhook: %w", notFound("customer", id))
	}
	return nil
}

// ProfileUpdate changes a customer's profile: each field that is nil is left as it is.
type ProfileUpdate struct {
	Name, Detail, Email, PhoneNumber, Address *string
}

// UpdateCustomerProfile writes the fields of a customer's profile that u sets.
func (s *Store) UpdateCustomerProfile(ctx context.Context, id uuid.UUID, u ProfileUpdate) error {
	updates := map[string]any{"tm_update": s.timestamp()}
	for column, v := range map[string]*string{
		"display_name": u.Name, "detail": u.Detail, "email": u.Email, "phone_number": u.PhoneNumber, "address": u.Address,
	} {
		if v != nil {
			updates[column] = *v
		}
	}
	res := s.conn(ctx).Model(&Customer{}).Where("id = ?", id).Updates(updates)
	if res.Error != nil {
		return fmt.Errorf("store: update customer profile: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: update customer profile: %w", notFound("customer", id))
	}
	return nil
}
