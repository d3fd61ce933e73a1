package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Outbox message states.
const (
	OutboxPending   = "pending"   // to deliver, at next_attempt
	OutboxDelivered = "delivered" // a 2xx answer
	OutboxFailed    = "failed"    // given up on
	OutboxGone      = "gone"      // the receiver answered 410 Gone: never tried again
	OutboxDropped   = "dropped"   // never sent: its customer had OutboxMaxPending messages waiting already
)

// DefaultOutboxMaxPending is the default cap on the messages one customer may have waiting.
const DefaultOutboxMaxPending = 10000

// outboxLimits is the store's outbox cap, and what it has dropped since the process started (a metric's counter:
// the dropped messages themselves are rows, listed like any other).
type outboxLimits struct {
	maxPending int
	dropped    atomic.Int64
}

// OutboxDropped counts the messages this process recorded as dropped (over the cap) since it started.
func (s *Store) OutboxDropped() int64 { return s.outbox.dropped.Load() }

// OutboxDestination is the destination a URL's messages are shared and backed off by: its scheme, host and port.
// A URL that does not parse is its own destination.
func OutboxDestination(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	}
	return strings.ToLower(u.Scheme) + "://" + host
}

// OutboxRetention is how long a message that is done (delivered or failed) stays listed, before Sweep drops it.
const OutboxRetention = 7 * 24 * time.Hour

// OutboxMessage is one request flowbin owes a customer's system: an activeflow's event, or a webhook_send that
// does not wait. It is written in the transaction of the change that caused it, so that no change commits without
// it and none is sent for a change that rolled back.
type OutboxMessage struct {
	ID           uuid.UUID  `gorm:"column:id;primaryKey"`
	CustomerID   uuid.UUID  `gorm:"column:customer_id"`
	ActiveflowID uuid.UUID  `gorm:"column:activeflow_id"`
	EventType    string     `gorm:"column:event_type"`
	URL          string     `gorm:"column:url"`
	Method       string     `gorm:"column:method"`
	ContentType  string     `gorm:"column:content_type"`
	Payload      string     `gorm:"column:payload"`
	Signed       bool       `gorm:"column:signed"`      // an event; every message is signed once its customer has a secret
	Destination  string     `gorm:"column:destination"` // OutboxDestination(URL), set by EnqueueOutbox
	State        string     `gorm:"column:state"`
	Attempts     int        `gorm:"column:attempts"`
	NextAttempt  time.Time  `gorm:"column:next_attempt"`
	LeaseUntil   *time.Time `gorm:"column:lease_until"`
	TMCreate     time.Time  `gorm:"column:tm_create"`
	TMUpdate     *time.Time `gorm:"column:tm_update"`

	// DestinationFailures is how many times in a row its destination did not answer, when claimed (0: healthy).
	DestinationFailures int `gorm:"column:destination_failures;->"`

	// Log is the message's attempts, oldest first, when read with ListOutbox.
	Log []OutboxAttempt `gorm:"-"`
}

// TableName tells GORM the table.
func (OutboxMessage) TableName() string { return "outbox" }

// OutboxAttempt is one attempt to deliver a message.
type OutboxAttempt struct {
	MessageID  uuid.UUID `gorm:"column:message_id;primaryKey"`
	Attempt    int       `gorm:"column:attempt;primaryKey"`
	TMAttempt  time.Time `gorm:"column:tm_attempt"`
	Status     int       `gorm:"column:status"` // the HTTP status; 0 when nothing answered
	Error      string    `gorm:"column:error"`
	DurationMS int       `gorm:"column:duration_ms"`
}

// TableName tells GORM the table.
func (OutboxAttempt) TableName() string { return "outbox_attempts" }

// EnqueueOutbox writes messages, due now, in the transaction of ctx if there is one. Each gets an id unless it
// has one. notify, when not nil, runs once they are committed (to wake a deliverer).
//
// A customer may have at most OutboxMaxPending messages waiting: the messages of a write that would exceed it
// are written as dropped (listed with their activeflow, never sent, counted by OutboxDropped) and the write
// itself succeeds — a customer's dead receiver must never fail that customer's calls, nor fill the database.
// The cap is counted in the writer's transaction, so concurrent writers may pass it by the messages they add at
// once.
func (s *Store) EnqueueOutbox(ctx context.Context, msgs []OutboxMessage, notify func()) error {
	if len(msgs) == 0 {
		return nil
	}
	now := s.timestamp()
	room := map[uuid.UUID]int{}
	dropped := int64(0)
	for i := range msgs {
		m := &msgs[i]
		if m.ID == uuid.Nil {
			id, err := uuid.NewV7()
			if err != nil {
				return fmt.Errorf("store: enqueue: %w", err)
			}
			m.ID = id
		}
		left, ok := room[m.CustomerID]
		if !ok {
			// Counting stops at the cap: a customer with little waiting (the usual case) costs an index probe.
			var n int64
			err := s.conn(ctx).Raw("SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE customer_id = ? AND state = ? LIMIT ?) AS waiting",
				m.CustomerID, OutboxPending, s.outbox.maxPending).Scan(&n).Error
			if err != nil {
				return fmt.Errorf("store: enqueue: %w", classify(err))
			}
			left = s.outbox.maxPending - int(n)
		}
		m.Destination = OutboxDestination(m.URL)
		m.Attempts, m.NextAttempt, m.TMCreate, m.TMUpdate = 0, now, now, nil
		if left > 0 {
			m.State = OutboxPending
			left--
		} else {
			m.State, m.TMUpdate = OutboxDropped, &now
			dropped++
		}
		room[m.CustomerID] = left
	}
	if err := s.conn(ctx).CreateInBatches(&msgs, 200).Error; err != nil {
		return fmt.Errorf("store: enqueue: %w", classify(err))
	}
	// Claims walk destinations: each one written to has its row (already there, nearly always: nothing is written).
	seen := map[destinationKey]bool{}
	for _, m := range msgs {
		k := destinationKey{m.CustomerID, m.Destination}
		if seen[k] || m.State != OutboxPending {
			continue
		}
		seen[k] = true
		err := s.conn(ctx).Exec("INSERT INTO outbox_destinations (customer_id, destination) VALUES (?, ?) ON CONFLICT (customer_id, destination) DO NOTHING",
			m.CustomerID, m.Destination).Error
		if err != nil {
			return fmt.Errorf("store: enqueue: %w", classify(err))
		}
	}
	if dropped > 0 {
		afterCommit(ctx, func() { s.outbox.dropped.Add(dropped) })
	}
	if notify != nil {
		afterCommit(ctx, notify)
	}
	return nil
}

// OutboxShares bound what one claim may take: at most Customer messages of one customer in flight, across every
// instance, and at most Destination of those to one of its destinations (1 while that destination is failing: a
// single probe).
type OutboxShares struct {
	Customer, Destination int
}

// DefaultOutboxShares are ClaimOutbox's shares.
var DefaultOutboxShares = OutboxShares{Customer: 8, Destination: 4}

// ClaimOutbox is ClaimOutboxShared with DefaultOutboxShares.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error) {
	return s.ClaimOutboxShared(ctx, now, lease, limit, DefaultOutboxShares)
}

// claimLock is the PostgreSQL advisory lock (transaction-scoped) that makes claims take turns: a claim counts what
// every instance has in flight, and two claims deciding at once could both take the last of a customer's share.
// A claim holds it (or, on SQLite, the single writer's lock) only to count what is in flight and lease.
const claimLock = 0x666c6f77_0001 // "flow", 1

// claimGroups bounds the destinations one claim reads; they take turns (last_claim), so every one is read in turn.
const claimGroups = 256

// destinationsSQL reads the destinations a claim may take from: not backed off, with a message due and not leased
// (an index seek each: a destination with thousands waiting costs what one with a single message does), those
// served longest ago first.
const destinationsSQL = `
SELECT g.customer_id, g.destination, g.failures FROM outbox_destinations g
WHERE g.blocked_until <= @now AND EXISTS (
    SELECT 1 FROM outbox o WHERE o.customer_id = g.customer_id AND o.destination = g.destination
    AND o.state = 'pending' AND o.next_attempt <= @now AND (o.lease_until IS NULL OR o.lease_until < @now))
ORDER BY g.last_claim, g.customer_id, g.destination
LIMIT @groups`

type claimGroup struct {
	CustomerID  uuid.UUID `gorm:"column:customer_id"`
	Destination string    `gorm:"column:destination"`
	Failures    int       `gorm:"column:failures"`
}

type claimCandidate struct {
	ID          uuid.UUID `gorm:"column:id"`
	CustomerID  uuid.UUID `gorm:"column:customer_id"`
	Destination string    `gorm:"column:destination"`
	NextAttempt time.Time `gorm:"column:next_attempt"`
	failures    int
	turn        int // its place among its destination's candidates
}

type destinationKey struct {
	customer    uuid.UUID
	destination string
}

// ClaimOutboxShared leases up to limit messages that are due at now and not leased, until now+lease, and answers
// them, within shares: at most shares.Destination per destination (1, a probe, while it is failing) and
// shares.Customer per customer, each counting what is in flight on every instance; every customer's first message
// before anyone's second, and a customer's destinations in turn. It reads destinations (few), then the first
// messages of each (an index seek each), never the whole backlog; then, under a lock that makes claims take turns
// (an advisory lock on PostgreSQL, the single writer on SQLite), counts what is in flight and leases. So instances
// share the work, never hold one message at once, and never pass a share. A failing destination's probe keeps the
// destination blocked until its lease ends.
func (s *Store) ClaimOutboxShared(ctx context.Context, now time.Time, lease time.Duration, limit int, shares OutboxShares) ([]OutboxMessage, error) {
	now = now.UTC().Truncate(time.Microsecond)
	until := now.Add(lease)
	shares.Customer, shares.Destination = max(shares.Customer, 1), max(shares.Destination, 1)
	candidates, err := s.claimCandidates(ctx, now, shares)
	if err != nil || len(candidates) == 0 {
		return nil, err
	}
	var out []OutboxMessage
	err = s.InTx(ctx, func(ctx context.Context) error {
		if s.dialect == Postgres {
			if err := s.conn(ctx).Exec("SELECT pg_advisory_xact_lock(?)", claimLock).Error; err != nil {
				return err
			}
		}
		// What is in flight now, under the lock: another claim may have leased since the candidates were read.
		customers := make([]uuid.UUID, 0, len(candidates))
		for _, c := range candidates {
			customers = append(customers, c.CustomerID)
		}
		var busy []struct {
			CustomerID  uuid.UUID `gorm:"column:customer_id"`
			Destination string    `gorm:"column:destination"`
			N           int       `gorm:"column:n"`
		}
		err := s.conn(ctx).Raw(`SELECT customer_id, destination, COUNT(*) AS n FROM outbox
			WHERE state = ? AND lease_until >= ? AND customer_id IN ? GROUP BY customer_id, destination`,
			OutboxPending, now, customers).Scan(&busy).Error
		if err != nil {
			return err
		}
		perCustomer := map[uuid.UUID]int{}
		perDestination := map[destinationKey]int{}
		for _, b := range busy {
			perCustomer[b.CustomerID] += b.N
			perDestination[destinationKey{b.CustomerID, b.Destination}] += b.N
		}
		var ids []uuid.UUID
		served := map[destinationKey]bool{}
		var probes []destinationKey
		for _, c := range candidates {
			if len(ids) == limit {
				break
			}
			k := destinationKey{c.CustomerID, c.Destination}
			destShare := shares.Destination
			if c.failures > 0 {
				destShare = 1
			}
			if perCustomer[c.CustomerID] >= shares.Customer || perDestination[k] >= destShare {
				continue
			}
			perCustomer[c.CustomerID]++
			perDestination[k]++
			ids = append(ids, c.ID)
			if !served[k] && c.failures > 0 {
				probes = append(probes, k)
			}
			served[k] = true
		}
		if len(ids) == 0 {
			return nil
		}
		res := s.conn(ctx).Model(&OutboxMessage{}).
			Where("id IN ? AND state = ? AND (lease_until IS NULL OR lease_until < ?)", ids, OutboxPending, now).
			Update("lease_until", until)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		for k := range served {
			blocked := "blocked_until"
			if slices.Contains(probes, k) {
				blocked = "CASE WHEN blocked_until < @until THEN @until ELSE blocked_until END"
			}
			err := s.conn(ctx).Exec("UPDATE outbox_destinations SET last_claim = @now, blocked_until = "+blocked+
				" WHERE customer_id = @customer AND destination = @destination",
				map[string]any{"now": now, "until": until, "customer": k.customer, "destination": k.destination}).Error
			if err != nil {
				return err
			}
		}
		return s.conn(ctx).Raw(`SELECT o.*, COALESCE(b.failures, 0) AS destination_failures FROM outbox o
			LEFT JOIN outbox_destinations b ON b.customer_id = o.customer_id AND b.destination = o.destination
			WHERE o.id IN ? AND o.lease_until = ? ORDER BY o.next_attempt`, ids, until).Scan(&out).Error
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", classify(err))
	}
	return out, nil
}

// claimCandidates reads, without locks, the first due messages of each destination a claim may take from, in the
// order the claim considers them: round by round, each customer's next one (its destinations in turn), customers
// by their oldest due message.
func (s *Store) claimCandidates(ctx context.Context, now time.Time, shares OutboxShares) ([]claimCandidate, error) {
	var groups []claimGroup
	err := s.conn(ctx).Raw(destinationsSQL, map[string]any{"now": now, "groups": claimGroups}).Scan(&groups).Error
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", classify(err))
	}
	if len(groups) == 0 {
		return nil, nil
	}
	parts := make([]string, len(groups))
	var args []any
	for i, g := range groups {
		k := min(shares.Destination, shares.Customer)
		if g.Failures > 0 {
			k = 1
		}
		parts[i] = fmt.Sprintf(`SELECT * FROM (SELECT id, customer_id, destination, next_attempt FROM outbox
			WHERE customer_id = ? AND destination = ? AND state = 'pending' AND next_attempt <= ?
			AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt, id LIMIT %d) AS head%d`, k, i)
		args = append(args, g.CustomerID, g.Destination, now, now)
	}
	var heads []claimCandidate
	if err := s.conn(ctx).Raw(strings.Join(parts, " UNION ALL "), args...).Scan(&heads).Error; err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", classify(err))
	}
	failures := map[destinationKey]int{}
	for _, g := range groups {
		failures[destinationKey{g.CustomerID, g.Destination}] = g.Failures
	}
	// Turns: within a destination by age; within a customer, destinations alternate (turn = rank in destination);
	// then round r takes every customer's r-th candidate, customers by their oldest.
	slices.SortStableFunc(heads, func(a, b claimCandidate) int { return a.NextAttempt.Compare(b.NextAttempt) })
	rank := map[destinationKey]int{}
	byCustomer := map[uuid.UUID][]claimCandidate{}
	var order []uuid.UUID
	for _, h := range heads {
		k := destinationKey{h.CustomerID, h.Destination}
		h.failures, h.turn = failures[k], rank[k]
		rank[k]++
		if _, ok := byCustomer[h.CustomerID]; !ok {
			order = append(order, h.CustomerID)
		}
		byCustomer[h.CustomerID] = append(byCustomer[h.CustomerID], h)
	}
	var out []claimCandidate
	for round := 0; ; round++ {
		took := false
		for _, c := range order {
			list := byCustomer[c]
			if round == 0 {
				slices.SortStableFunc(list, func(a, b claimCandidate) int { return a.turn - b.turn })
			}
			if round < len(list) && round < shares.Customer {
				out = append(out, list[round])
				took = true
			}
		}
		if !took {
			return out, nil
		}
	}
}

// BackOffDestination records that m's destination did not answer at now: none of its customer's messages to it
// are claimed before until, and the next claim after that sends a single probe. failures is the count to record
// (the message's DestinationFailures plus one).
func (s *Store) BackOffDestination(ctx context.Context, m *OutboxMessage, failures int, until time.Time) error {
	err := s.conn(ctx).Exec(`INSERT INTO outbox_destinations (customer_id, destination, failures, blocked_until) VALUES (?, ?, ?, ?)
		ON CONFLICT (customer_id, destination) DO UPDATE SET failures = excluded.failures, blocked_until = excluded.blocked_until`,
		m.CustomerID, m.Destination, failures, until.UTC().Truncate(time.Microsecond)).Error
	if err != nil {
		return fmt.Errorf("store: back off destination: %w", classify(err))
	}
	return nil
}

// sweepDestinations forgets destinations that nothing has waited for since an hour (the table does not grow with
// every receiver ever used), and gives back its row to any destination with messages waiting and no row (one
// written while its idle row was being swept), so that no message waits unclaimed past a sweep.
func (s *Store) sweepDestinations(ctx context.Context, now time.Time) error {
	hourAgo := now.Add(-time.Hour)
	err := s.conn(ctx).Exec(`DELETE FROM outbox_destinations WHERE blocked_until < ? AND last_claim < ? AND NOT EXISTS (
		SELECT 1 FROM outbox o WHERE o.customer_id = outbox_destinations.customer_id
		AND o.destination = outbox_destinations.destination AND o.state = ?)`, hourAgo, hourAgo, OutboxPending).Error
	if err != nil {
		return fmt.Errorf("store: sweep: %w", classify(err))
	}
	err = s.conn(ctx).Exec(`INSERT INTO outbox_destinations (customer_id, destination)
		SELECT DISTINCT o.customer_id, o.destination FROM outbox o WHERE o.state = ? AND NOT EXISTS (
			SELECT 1 FROM outbox_destinations g WHERE g.customer_id = o.customer_id AND g.destination = o.destination)`, OutboxPending).Error
	if err != nil {
		return fmt.Errorf("store: sweep: %w", classify(err))
	}
	return nil
}

// ClearDestination forgets m's destination's failures and back-off: it answered.
func (s *Store) ClearDestination(ctx context.Context, m *OutboxMessage) error {
	err := s.conn(ctx).Exec("UPDATE outbox_destinations SET failures = 0, blocked_until = ? WHERE customer_id = ? AND destination = ?",
		time.Unix(0, 0).UTC(), m.CustomerID, m.Destination).Error
	if err != nil {
		return fmt.Errorf("store: clear destination: %w", classify(err))
	}
	return nil
}

// ErrLeaseLost is an attempt recorded after the message's lease ran out and another deliverer took it.
var ErrLeaseLost = errors.New("store: the message's lease was lost")

// FinishOutboxAttempt records an attempt of a message leased by ClaimOutbox, and moves it to state (pending again
// at next, delivered or failed). A deliverer whose lease ran out meanwhile records nothing: ErrLeaseLost.
func (s *Store) FinishOutboxAttempt(ctx context.Context, m *OutboxMessage, a OutboxAttempt, state string, next time.Time) error {
	a.MessageID = m.ID
	a.TMAttempt = a.TMAttempt.UTC().Truncate(time.Microsecond)
	now := s.timestamp()
	err := s.InTx(ctx, func(ctx context.Context) error {
		res := s.conn(ctx).Model(&OutboxMessage{}).Where("id = ? AND lease_until = ? AND attempts = ?", m.ID, m.LeaseUntil, m.Attempts).
			Updates(map[string]any{"attempts": a.Attempt, "state": state, "next_attempt": next.UTC().Truncate(time.Microsecond),
				"lease_until": gorm.Expr("NULL"), "tm_update": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrLeaseLost
		}
		return s.conn(ctx).Create(&a).Error
	})
	if errors.Is(err, ErrLeaseLost) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store: finish outbox attempt: %w", classify(err))
	}
	return nil
}

// ListOutbox reads the messages of an activeflow of the customer, oldest first, with their attempts.
func (s *Store) ListOutbox(ctx context.Context, customerID, activeflowID uuid.UUID, limit int) ([]OutboxMessage, error) {
	var out []OutboxMessage
	err := s.conn(ctx).Where("customer_id = ? AND activeflow_id = ?", customerID, activeflowID).
		Order("tm_create, id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("store: list outbox: %w", classify(err))
	}
	if err := s.attachAttempts(ctx, out); err != nil {
		return nil, fmt.Errorf("store: list outbox: %w", err)
	}
	return out, nil
}

// attachAttempts reads the attempts of messages into their Log, oldest first, in one query.
func (s *Store) attachAttempts(ctx context.Context, out []OutboxMessage) error {
	if len(out) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(out))
	byID := make(map[uuid.UUID]*OutboxMessage, len(out))
	for i := range out {
		ids[i] = out[i].ID
		byID[out[i].ID] = &out[i]
		out[i].Log = []OutboxAttempt{}
	}
	var attempts []OutboxAttempt
	if err := s.conn(ctx).Where("message_id IN ?", ids).Order("message_id, attempt").Find(&attempts).Error; err != nil {
		return classify(err)
	}
	for _, a := range attempts {
		m := byID[a.MessageID]
		m.Log = append(m.Log, a)
	}
	return nil
}

// ListCustomerOutbox reads one page of a customer's messages, newest first, with their attempts.
func (s *Store) ListCustomerOutbox(ctx context.Context, customerID uuid.UUID, p Page) ([]OutboxMessage, error) {
	scope := func(q *gorm.DB) *gorm.DB { return q.Where("customer_id = ?", customerID) }
	out, err := listPage(s.conn(ctx), scope, p, func(m *OutboxMessage) time.Time { return m.TMCreate })
	if err != nil {
		return nil, fmt.Errorf("store: list customer outbox: %w", err)
	}
	if err := s.attachAttempts(ctx, out); err != nil {
		return nil, fmt.Errorf("store: list customer outbox: %w", err)
	}
	return out, nil
}

// OutboxDepth counts the messages waiting for delivery.
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	if err := s.conn(ctx).Model(&OutboxMessage{}).Where("state = ?", OutboxPending).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("store: outbox depth: %w", classify(err))
	}
	return n, nil
}
