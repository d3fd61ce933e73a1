package store

import (
	"context"
	"fmt"
	"time"
)

// Hit counts one event in bucket for the fixed window of length window that contains now, and returns the
// number of events counted in that window so far and when the window ends. The counter lives in the database,
// so every instance shares it.
func (s *Store) Hit(ctx context.Context, bucket string, window time.Duration) (int, time.Time, error) {
	now := s.timestamp()
	start := now.Truncate(window)
	var hits int
	err := s.conn(ctx).Raw(`
INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, 1)
ON CONFLICT (bucket) DO UPDATE SET
    hits = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.hits + 1 ELSE 1 END,
    window_start = excluded.window_start
RETURNING hits`, bucket, start).Scan(&hits).Error
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("store: rate limit hit: %w", classify(err))
	}
	return hits, start.Add(window), nil
}

// Sweep deletes state that has expired: rate-limit windows that ended more than an hour ago, and idempotency
// records past their lifetime.
func (s *Store) Sweep(ctx context.Context) error {
	now := s.timestamp()
	if err := s.conn(ctx).Exec("DELETE FROM rate_limits WHERE window_start < ?", now.Add(-time.Hour)).Error; err != nil {
		return fmt.Errorf("store: sweep: %w", classify(err))
	}
	if err := s.conn(ctx).Exec("DELETE FROM idempotency_keys WHERE tm_expire < ?", now).Error; err != nil {
		return fmt.Errorf("store: sweep: %w", classify(err))
	}
	// Outbox messages that are done (delivered or given up on) are kept OutboxRetention for
	// GET /v1.0/activeflows/{id}/events, then dropped with their attempts: the outbox does not grow for ever.
	done := "SELECT id FROM outbox WHERE state <> ? AND tm_update < ?"
	cutoff := now.Add(-OutboxRetention)
	if err := s.conn(ctx).Exec("DELETE FROM outbox_attempts WHERE message_id IN ("+done+")", OutboxPending, cutoff).Error; err != nil {
		return fmt.Errorf("store: sweep: %w", classify(err))
	}
	if err := s.conn(ctx).Exec("DELETE FROM outbox WHERE id IN ("+done+")", OutboxPending, cutoff).Error; err != nil {
		return fmt.Errorf("store: sweep: %w", classify(err))
	}
	return s.sweepDestinations(ctx, now)
}
