package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

type txKey struct{}

// conn is the connection to use: the transaction that ctx carries (from InTx), or the pool.
func (s *Store) conn(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx.WithContext(ctx)
	}
	return s.db.WithContext(ctx)
}

// InTx runs fn in one transaction: every store call made with the context fn receives joins it, and they
// commit or roll back together. Inside a transaction already, fn joins it.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(ctx)
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
	if err != nil {
		return fmt.Errorf("store: transaction: %w", classify(err))
	}
	return nil
}
