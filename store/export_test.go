package store

import (
	"context"

	"github.com/google/uuid"
)

// Announce queues id on the store's announcer, behind every change queued before it: a test that sees id
// announced has seen every announcement queued before it.
func (s *Store) Announce(id uuid.UUID) { s.announcer.add(id) }

// BackedOffDestinations lists the destinations outbox_destinations holds, for tests.
func (s *Store) BackedOffDestinations(ctx context.Context) ([]string, error) {
	var out []string
	err := s.conn(ctx).Raw("SELECT destination FROM outbox_destinations ORDER BY destination").Scan(&out).Error
	return out, err
}
