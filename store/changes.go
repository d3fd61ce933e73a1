package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// flowChangedChannel is the PostgreSQL channel on which every change of a flow row is announced (migration 00004).
const flowChangedChannel = "flowbin_flow_changed"

// userChangedChannel is the PostgreSQL channel on which every change of a user row is announced (migration 00006).
const userChangedChannel = "flowbin_user_changed"

// callHangupChannel is the PostgreSQL channel on which requests to hang up a call are announced (RequestCallHangup).
const callHangupChannel = "flowbin_call_hangup"

// CallChangeListener is a ChangeListener that also hears of requests to hang up calls (RequestCallHangup), from
// every instance, once committed: the instance holding the call hangs it up. A request may be heard twice.
type CallChangeListener interface {
	ChangeListener
	CallHangupRequested(id uuid.UUID)
}

// ChangeListener hears of changed flows, from every instance on the database: for caches.
type ChangeListener interface {
	// FlowChanged says that the flow with this id changed (or was deleted) and the change has committed.
	FlowChanged(id uuid.UUID)
	// ChangesReset says that changes may have been missed: everything learned before is to be forgotten. live
	// tells whether changes are delivered from now on; until a reset with live set, none are.
	ChangesReset(live bool)
}

// UserChangeListener is a ChangeListener that also hears of changed users (a password, a token generation, a
// disabling, a removal), from every instance and from the command line, once the change has committed.
type UserChangeListener interface {
	ChangeListener
	UserChanged(id uuid.UUID)
}

// UserChangesHeard reports whether WatchFlowChanges delivers every committed change of users, whoever made it.
// On PostgreSQL it does (a trigger announces every change); on SQLite the command line (flowbin user …) writes
// the file from another process, unheard, so what is known of users must be read from the file each time.
func (s *Store) UserChangesHeard() bool { return s.dialect == Postgres }

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

func (f *changeFeed) userChanged(id uuid.UUID) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, l := range f.listeners {
		if ul, ok := l.(UserChangeListener); ok {
			ul.UserChanged(id)
		}
	}
}

func (f *changeFeed) callHangup(id uuid.UUID) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, l := range f.listeners {
		if cl, ok := l.(CallChangeListener); ok {
			cl.CallHangupRequested(id)
		}
	}
}

// announceHangup tells every instance's listeners, once the transaction of ctx has committed, that the call is
// to be hung up: this process's at once, the others' through a notification sent in the same transaction (a
// hangup is rare: its NOTIFY may wait for the commit's lock).
func (s *Store) announceHangup(ctx context.Context, id uuid.UUID) error {
	if s.dialect == Postgres {
		if err := s.conn(ctx).Exec("SELECT pg_notify(?, ?)", callHangupChannel, id.String()).Error; err != nil {
			return classify(err)
		}
	}
	afterCommit(ctx, func() { s.feed.callHangup(id) })
	return nil
}

// userChanged tells this process's listeners that a user changed, once the transaction of ctx has committed.
// (Other instances hear it from the trigger of migration 00006.)
func (s *Store) userChanged(ctx context.Context, id uuid.UUID) {
	afterCommit(ctx, func() { s.feed.userChanged(id) })
}

// flowChanged tells this process's listeners that a flow changed, once the transaction of ctx has committed, and
// (on PostgreSQL) has it announced to every other instance.
func (s *Store) flowChanged(ctx context.Context, id uuid.UUID) {
	afterCommit(ctx, func() {
		s.feed.changed(id)
		s.announcer.add(id)
	})
}

// writerSetting marks flowbin's pool connections, whose changes the store announces itself (migration 00004).
const writerSetting = "flowbin.writer"

// announcer sends NOTIFY for the changes this process commits, from a connection of its own, after they commit:
// in batches (one notification for up to maxAnnounceBatch ids) and without waiting for the disk
// (synchronous_commit off: a notification is not data, and PostgreSQL holds its notification lock until the
// commit of the notifying transaction ends, which would otherwise serialise writers on the disk's flushes).
type announcer struct {
	store   *Store
	pending chan uuid.UUID
	lost    atomic.Bool // pending overflowed: announce that everything changed
	cancel  context.CancelFunc
	done    chan struct{}
}

// maxAnnounceBatch ids (36 characters and a comma each) fit PostgreSQL's 8000-byte payload.
const maxAnnounceBatch = 200

func (s *Store) startAnnouncing() {
	ctx, cancel := context.WithCancel(context.Background())
	a := &announcer{store: s, pending: make(chan uuid.UUID, 8192), cancel: cancel, done: make(chan struct{})}
	s.announcer = a
	go a.run(ctx)
}

// stopAnnouncing sends what is pending (for at most a heartbeat) and stops.
func (s *Store) stopAnnouncing() {
	if s.announcer == nil {
		return
	}
	s.announcer.cancel()
	<-s.announcer.done
}

func (a *announcer) add(id uuid.UUID) {
	if a == nil {
		return
	}
	select {
	case a.pending <- id:
	default:
		a.lost.Store(true)
	}
}

func (a *announcer) run(ctx context.Context) {
	defer close(a.done)
	var (
		conn    *pgx.Conn
		batch   []string
		backoff = 50 * time.Millisecond
	)
	defer func() {
		if conn != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(closeCtx)
			cancel()
		}
	}()
	for {
		if len(batch) == 0 && !a.lost.Load() {
			select {
			case id := <-a.pending:
				batch = append(batch, id.String())
			case <-ctx.Done():
				if len(a.pending) == 0 {
					return
				}
			}
		}
	drain:
		for len(batch) < maxAnnounceBatch {
			select {
			case id := <-a.pending:
				batch = append(batch, id.String())
			default:
				break drain
			}
		}
		if a.lost.Load() {
			batch = append(batch[:0], "*")
		}
		if len(batch) == 0 {
			continue
		}
		// Once stopping, one last try of at most a heartbeat.
		sendCtx, cancel := context.WithTimeout(context.Background(), a.store.heartbeat)
		if ctx.Err() == nil {
			sendCtx, cancel = context.WithTimeout(ctx, a.store.heartbeat)
		}
		err := a.send(sendCtx, &conn, strings.Join(batch, ","))
		cancel()
		if err == nil {
			if batch[0] == "*" {
				a.lost.Store(false)
			}
			batch = batch[:0]
			backoff = 50 * time.Millisecond
			continue
		}
		if ctx.Err() != nil {
			a.store.log.Warn("flow changes not announced at shutdown; other instances' caches drop them when their entries expire",
				"err", err, "flows", len(batch))
			return
		}
		a.store.log.Warn("could not announce flow changes; retrying", "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// send notifies on *conn, connecting first when there is none; a failed connection is closed and forgotten.
func (a *announcer) send(ctx context.Context, conn **pgx.Conn, payload string) error {
	if *conn == nil {
		cfg, err := pgx.ParseConfig(a.store.url)
		if err != nil {
			return err
		}
		cfg.RuntimeParams["synchronous_commit"] = "off"
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		*conn = c
	}
	if _, err := (*conn).Exec(ctx, "SELECT pg_notify($1, $2)", flowChangedChannel, payload); err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = (*conn).Close(closeCtx)
		cancel()
		*conn = nil
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// WatchFlowChanges delivers the changes of flows to l until ctx ends, and those of users too when l is a
// UserChangeListener. Changes that this process commits are
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
	for _, channel := range []string{flowChangedChannel, userChangedChannel, callHangupChannel} {
		listenCtx, cancel := context.WithTimeout(ctx, s.heartbeat)
		_, err = conn.Exec(listenCtx, "LISTEN "+channel)
		cancel()
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	// Listening from here: whatever changed before is forgotten, whatever changes next is heard.
	l.ChangesReset(true)
	for {
		waitCtx, cancel := context.WithTimeout(ctx, s.heartbeat)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil && n.Channel == userChangedChannel:
			deliverUsers(l, n.Payload)
		case err == nil && n.Channel == callHangupChannel:
			deliverHangup(l, n.Payload)
		case err == nil:
			deliver(l, n.Payload)
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

// deliver hands a notification's flow ids to l: "*", or anything that is not a list of ids, forgets everything
// rather than guess.
func deliver(l ChangeListener, payload string) {
	ids := make([]uuid.UUID, 0, strings.Count(payload, ",")+1)
	for part := range strings.SplitSeq(payload, ",") {
		id, err := uuid.Parse(part)
		if err != nil {
			l.ChangesReset(true)
			return
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		l.FlowChanged(id)
	}
}

// deliverUsers hands a notification's user id to l, if it hears of users: "*", or anything that is not an id,
// forgets everything.
func deliverUsers(l ChangeListener, payload string) {
	ul, ok := l.(UserChangeListener)
	if !ok {
		return
	}
	id, err := uuid.Parse(payload)
	if err != nil {
		l.ChangesReset(true)
		return
	}
	ul.UserChanged(id)
}

// deliverHangup hands a notification's call id to l, if it hears of calls; anything that is not an id is dropped
// (a hangup is not a cache: there is nothing to forget).
func deliverHangup(l ChangeListener, payload string) {
	cl, ok := l.(CallChangeListener)
	if !ok {
		return
	}
	if id, err := uuid.Parse(payload); err == nil {
		cl.CallHangupRequested(id)
	}
}
