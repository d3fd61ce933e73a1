package store

import "github.com/google/uuid"

// Announce queues id on the store's announcer, behind every change queued before it: a test that sees id
// announced has seen every announcement queued before it.
func (s *Store) Announce(id uuid.UUID) { s.announcer.add(id) }
