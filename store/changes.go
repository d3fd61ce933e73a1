package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// flowChangedChannel is the PostgreSQL channel on which every change of a flow row is announced (migration 00004).
const flowChangedChannel = "flowbin_flow_changed"

// ChangeListener hears of changed flows, from every instance on the database: for caches.
type ChangeListener interface {
	// FlowChanged says that the flow with this id changed (or was deleted) and the change has committed.
	FlowChanged(id uuid.UUID)
	// ChangesReset says that changes may have been missed: everything learned before is to be forgotten. live
	// tells whether changes are delivered from now on; until a reset with live set, none are.
	ChangesReset(live bool)
}

// changeFeed hands the changes that this process commits to its listeners at once, without waiting for the
// database to announce them.
type changeFeed struct {
	mu        sync.RWMutex
	listeners []ChangeListener
}

func (f *changeFeed) add(l ChangeListener) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listeners = append(f.listeners, l)
}

func (f *changeFeed) remove(l ChangeListener) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.listeners {
		if x == l {
			f.listeners = append(f.listeners[:i:i], f.listeners[i+1:]...)
			return
		}
	}
}

func (f *changeFeed) changed(id uuid.UUID) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, l := range f.listeners {
		l.FlowChanged(id)
	}
}

// flowChanged tells this process's listeners that a flow changed, once the transaction of ctx has committed.
// Other instances hear of it from the database (on PostgreSQL).
func (s *Store) flowChanged(ctx context.Context, id uuid.UUID) {
	afterCommit(ctx, func() { s.feed.changed(id) })
}

// WatchFlowChanges delivers the changes of flows to l until ctx ends. Changes that this process commits are
// delivered as they commit. On PostgreSQL, the changes of every other writer (other instances, scripts) arrive
// through LISTEN on a connection of its own, checked every ListenHeartbeat; when it fails, l is reset (not live)
// until the connection is back and listening again. On SQLite, whose file only this process writes, the changes
// are all local and l is live at once.
func (s *Store) WatchFlowChanges(ctx context.Context, l ChangeListener) {
	s.feed.add(l)
	defer s.feed.remove(l)
	defer l.ChangesReset(false)
	if s.dialect != Postgres {
		l.ChangesReset(true)
		<-ctx.Done()
		return
	}
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := s.listen(ctx, l)
		l.ChangesReset(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			backoff = 50 * time.Millisecond
		}
		s.log.Warn("flow change listener lost its connection; caches are bypassed until it is back",
			"err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen runs one LISTEN connection until it fails or ctx ends.
func (s *Store) listen(ctx context.Context, l ChangeListener) error {
	connectCtx, cancel := context.WithTimeout(ctx, s.heartbeat)
	conn, err := pgx.Connect(connectCtx, s.url)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	listenCtx, cancel := context.WithTimeout(ctx, s.heartbeat)
	_, err = conn.Exec(listenCtx, "LISTEN "+flowChangedChannel)
	cancel()
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Listening from here: whatever changed before is forgotten, whatever changes next is heard.
	l.ChangesReset(true)
	for {
		waitCtx, cancel := context.WithTimeout(ctx, s.heartbeat)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			if n.Payload == "*" {
				l.ChangesReset(true)
				continue
			}
			id, perr := uuid.Parse(n.Payload)
			if perr != nil {
				l.ChangesReset(true) // not from flowbin's trigger: forget everything rather than guess
				continue
			}
			l.FlowChanged(id)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Quiet for a heartbeat: make sure the connection is still there (a dead network does not say so).
			pingCtx, cancel := context.WithTimeout(ctx, s.heartbeat)
			err = conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return fmt.Errorf("heartbeat: %w", err)
			}
		default:
			return fmt.Errorf("wait: %w", err)
		}
	}
}
