package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

type setting struct {
	Key      string    `gorm:"column:key;primaryKey"`
	Value    string    `gorm:"column:value"`
	TMCreate time.Time `gorm:"column:tm_create"`
}

func (setting) TableName() string { return "settings" }

// EnsureSetting returns the value stored under key, storing generate()'s value first when there is none.
// Instances that race on an empty database all end up with the value that was stored first.
func (s *Store) EnsureSetting(ctx context.Context, key string, generate func() (string, error)) (string, error) {
	value, err := generate()
	if err != nil {
		return "", fmt.Errorf("store: ensure setting %s: %w", key, err)
	}
	db := s.conn(ctx)
	row := setting{Key: key, Value: value, TMCreate: s.timestamp()}
	err = db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}}, DoNothing: true}).Create(&row).Error
	if err != nil {
		return "", fmt.Errorf("store: ensure setting %s: %w", key, classify(err))
	}
	var got setting
	if err := db.Where("key = ?", key).Take(&got).Error; err != nil {
		return "", fmt.Errorf("store: ensure setting %s: %w", key, classify(err))
	}
	return got.Value, nil
}
