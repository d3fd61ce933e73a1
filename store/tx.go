package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

type txKey struct{}

// txState is the transaction that a context carries, and what to do once it has committed.
type txState struct {
	db          *gorm.DB
	afterCommit []func()
}

// conn is the connection to use: the transaction that ctx carries (from InTx), or the pool.
func (s *Store) conn(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*txState); ok {
		return tx.db.WithContext(ctx)
	}
	return s.db.WithContext(ctx)
}

// InTx runs fn in one transaction: every store call made with the context fn receives joins it, and they
// commit or roll back together. Inside a transaction already, fn joins it.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*txState); ok {
		return fn(ctx)
	}
	state := &txState{}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		state.db = tx
		return fn(context.WithValue(ctx, txKey{}, state))
	})
	if err != nil {
		return fmt.Errorf("store: transaction: %w", classify(err))
	}
	for _, f := range state.afterCommit {
		f()
	}
	return nil
}

// afterCommit runs f once the transaction of ctx has committed (never if it rolls back), or at once outside one.
func afterCommit(ctx context.Context, f func()) {
	if tx, ok := ctx.Value(txKey{}).(*txState); ok {
		tx.afterCommit = append(tx.afterCommit, f)
		return
	}
	f()
}
