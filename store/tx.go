package store

import (
	"context"
	"fmt"
	"sync"

	"gorm.io/gorm"
)

type txKey struct{}

// txState is the transaction that a context carries, and what to do once it has committed. The transaction
// begins with its first statement, not before: work done before it (a request to a customer's system, say) holds
// no connection and no lock, which on SQLite would be the database's one write lock.
type txState struct {
	root        *gorm.DB // what begins it
	mu          sync.Mutex
	db          *gorm.DB // nil until begun
	afterCommit []func()
}

// begun answers the transaction, beginning it at the first statement.
func (tx *txState) begun() *gorm.DB {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.db == nil {
		tx.db = tx.root.Begin()
	}
	return tx.db
}

// conn is the connection to use: the transaction that ctx carries (from InTx), or the pool.
func (s *Store) conn(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*txState); ok && tx != nil {
		return tx.begun().WithContext(ctx)
	}
	return s.db.WithContext(ctx)
}

// Outside answers ctx without the transaction it may carry: store calls made with it run on the pool and commit
// at once. A use case reads and claims with it what it must decide before anything leaves the process, and
// writes its outcome with ctx.
func Outside(ctx context.Context) context.Context {
	if tx, ok := ctx.Value(txKey{}).(*txState); !ok || tx == nil {
		return ctx
	}
	return context.WithValue(ctx, txKey{}, (*txState)(nil))
}

// InTx runs fn in one transaction: every store call made with the context fn receives joins it, and they
// commit or roll back together. Inside a transaction already, fn joins it. The transaction begins with the
// first statement fn makes; fn that makes none commits nothing.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if tx, ok := ctx.Value(txKey{}).(*txState); ok && tx != nil {
		return fn(ctx)
	}
	state := &txState{root: s.db.WithContext(ctx)}
	defer func() {
		if p := recover(); p != nil {
			if state.db != nil {
				state.db.Rollback()
			}
			panic(p)
		}
	}()
	err = fn(context.WithValue(ctx, txKey{}, state))
	switch {
	case state.db == nil:
	case err != nil:
		state.db.Rollback()
	default:
		err = state.db.Commit().Error
	}
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
	if tx, ok := ctx.Value(txKey{}).(*txState); ok && tx != nil {
		tx.afterCommit = append(tx.afterCommit, f)
		return
	}
	f()
}
