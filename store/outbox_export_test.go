package store

import "context"

// BackedOffDestinations lists the destinations outbox_destinations holds, for tests.
func (s *Store) BackedOffDestinations(ctx context.Context) ([]string, error) {
	var out []string
	err := s.conn(ctx).Raw("SELECT destination FROM outbox_destinations ORDER BY destination").Scan(&out).Error
	return out, err
}
