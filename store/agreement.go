package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// agreementKey is where a shared setting's fingerprint is kept in the settings table.
func agreementKey(name string) string { return "fingerprint/" + name }

// RecordFingerprint records fingerprint as what the instance starting now uses for the setting name, and answers
// what was recorded before ("" when nothing was): the caller compares the two. The last instance to start wins the
// row, so that once every instance runs a changed setting, the next start agrees again. A fingerprint, never the
// setting itself: it is stored in the database, which backups hold.
func (s *Store) RecordFingerprint(ctx context.Context, name, fingerprint string) (previous string, err error) {
	err = s.InTx(ctx, func(ctx context.Context) error {
		var got setting
		err := s.conn(ctx).Where("key = ?", agreementKey(name)).Take(&got).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
		case err != nil:
			return err
		default:
			previous = got.Value
		}
		row := setting{Key: agreementKey(name), Value: fingerprint, TMCreate: s.timestamp()}
		return s.conn(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}},
			DoUpdates: clause.AssignmentColumns([]string{"value", "tm_create"})}).Create(&row).Error
	})
	if err != nil {
		return "", fmt.Errorf("store: record fingerprint %s: %w", name, classify(err))
	}
	return previous, nil
}

// Fingerprint answers the fingerprint recorded for the setting name, "" when none is.
func (s *Store) Fingerprint(ctx context.Context, name string) (string, error) {
	var got setting
	err := s.conn(ctx).Where("key = ?", agreementKey(name)).Take(&got).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: fingerprint %s: %w", name, classify(err))
	}
	return got.Value, nil
}
