// Package events delivers the outbox: every request flowbin owes a customer's system (an activeflow's events,
// webhook_send that does not wait), written by the server in the transaction of the change that caused it. Any
// instance delivers what is due, at least once, with retries and exponential backoff for a bounded time; a
// message is leased while one instance sends it, so two instances never send it at once. Events are signed as
// the Standard Webhooks specification says (https://www.standardwebhooks.com): webhook-id, webhook-timestamp and
// webhook-signature headers, an HMAC-SHA256 over "id.timestamp.body" with the customer's secret.
package events

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store"
)

// Standard Webhooks' headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
	secretPrefix    = "whsec_"
)

// HeaderVoIPbin is VoIPbin's signature header: "sha256=" and the hex HMAC-SHA256 of the body, keyed by the secret
// as the customer holds it (bin-webhook-manager's computeSignature keys by []byte(secret)).
const HeaderVoIPbin = "X-VoIPBIN-Signature"

// SignVoIPbin answers the X-VoIPBIN-Signature of a body: "sha256=" and the lower-case hex HMAC-SHA256 of the body,
// keyed by the bytes of the secret string exactly as the customer received it ("whsec_…" included), as VoIPbin's
// webhook-manager computes it.
func SignVoIPbin(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyVoIPbin checks an X-VoIPBIN-Signature header as a VoIPbin receiver does.
func VerifyVoIPbin(secret, header string, body []byte) error {
	if !hmac.Equal([]byte(header), []byte(SignVoIPbin(secret, body))) {
		return errors.New("events: the X-VoIPBIN-Signature does not match")
	}
	return nil
}

// SignatureHeaders answers the headers that sign one delivery in both forms: Standard Webhooks' webhook-id,
// webhook-timestamp and webhook-signature, and VoIPbin's X-VoIPBIN-Signature. id is the delivery's id (stable
// across its retries, so receivers can drop duplicates) and at the time of the attempt. A secret that is not in
// Standard Webhooks' form is an error; an empty secret is one too (an unsigned delivery sends none of these).
func SignatureHeaders(secret, id string, at time.Time, body []byte) (http.Header, error) {
	if secret == "" {
		return nil, errors.New("events: no secret to sign with")
	}
	sig, err := Sign(secret, id, at, body)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, sig)
	h.Set(HeaderVoIPbin, SignVoIPbin(secret, body))
	return h, nil
}

// NewSecret makes a signing secret in Standard Webhooks' form: "whsec_" and 24 random bytes in base64.
func NewSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("events: new secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// Sign answers the webhook-signature of a message: "v1," and the base64 HMAC-SHA256 of "id.timestamp.body" under
// the secret's key.
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil {
		return "", fmt.Errorf("events: the secret is not base64: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Verify checks a message's signature header (which may list several, space-separated) as a receiver does, with
// a tolerance for the timestamp. It is what the tests and the documentation's receivers use.
func Verify(secret, id, timestamp, signatures string, body []byte, tolerance time.Duration, now time.Time) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("events: bad timestamp")
	}
	at := time.Unix(ts, 0)
	if now.Sub(at) > tolerance || at.Sub(now) > tolerance {
		return errors.New("events: timestamp out of tolerance")
	}
	want, err := Sign(secret, id, at, body)
	if err != nil {
		return err
	}
	for _, s := range strings.Fields(signatures) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("events: no signature matches")
}

// Secrets answers a customer's current signing secret, "" when it has none (its deliveries then carry
// webhook-id and webhook-timestamp, unsigned).
type Secrets func(ctx context.Context, customerID uuid.UUID) (string, error)

// Config configures a Deliverer. Zero values take the defaults.
type Config struct {
	// Backoff is the wait after a message's first failed attempt; it doubles after each (default 1s), up to
	// MaxBackoff (default 5m). A destination that does not answer is backed off the same way, as a whole.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// RetryFor bounds how long a message is retried after it was written (default 24h); MaxAttempts bounds its
	// attempts (default 12).
	RetryFor    time.Duration
	MaxAttempts int
	// Lease is how long a claimed message belongs to this deliverer (default 1m): longer than a request's timeout.
	Lease time.Duration
	// Poll is how often the outbox is read when nothing woke the deliverer (default 1s).
	Poll time.Duration
	// Batch bounds the messages claimed at once (default 32); Workers the requests this instance sends at once
	// (default 16). A worker that finishes claims again at once: nobody waits for a batch's slowest request.
	Batch, Workers int
	// CustomerShare bounds one customer's messages in flight across every instance (default 4, and at most half
	// the Workers, so that one customer never holds all of an instance); DestinationShare bounds those to one of
	// its destinations (default CustomerShare).
	CustomerShare, DestinationShare int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Observe, when not nil, is told of each attempt: its message, HTTP status (0: no answer) and error.
	Observe func(m *store.OutboxMessage, status int, err error)
}

// errSign is an attempt that failed before anything was sent: the customer's secret could not be read.
var errSign = errors.New("sign")

// Deliverer sends the outbox.
type Deliverer struct {
	cfg     Config
	store   *store.Store
	client  *outbound.Client
	secrets Secrets
	log     *slog.Logger
	wake    chan struct{}
}

// The defaults of Config that the command line also shows (FLOWBIN_EVENTS_*): written once, here.
const (
	DefaultRetryFor      = 24 * time.Hour
	DefaultWorkers       = 16
	DefaultCustomerShare = 4
)

// New makes a deliverer.
func New(cfg Config, st *store.Store, client *outbound.Client, secrets Secrets, log *slog.Logger) *Deliverer {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Backoff, time.Second)
	def(&cfg.MaxBackoff, 5*time.Minute)
	def(&cfg.RetryFor, DefaultRetryFor)
	def(&cfg.Lease, time.Minute)
	def(&cfg.Poll, time.Second)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.CustomerShare <= 0 {
		cfg.CustomerShare = max(1, min(DefaultCustomerShare, cfg.Workers/2))
	}
	if cfg.DestinationShare <= 0 {
		cfg.DestinationShare = cfg.CustomerShare
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Deliverer{cfg: cfg, store: st, client: client, secrets: secrets, log: log, wake: make(chan struct{}, 1)}
}

// Wake makes the deliverer read the outbox now (the server calls it when a change with messages commits).
func (d *Deliverer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, and returns once its requests have ended. Each message is sent by a worker of its
// own; whenever a worker is free the outbox is claimed again, within the shares, so one slow or dead receiver
// holds at most its customer's share of workers, never the loop.
func (d *Deliverer) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	done := make(chan struct{}, d.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	inflight := 0
	for {
		if free := d.cfg.Workers - inflight; free > 0 && ctx.Err() == nil {
			want := min(free, d.cfg.Batch)
			msgs := d.claim(ctx, want)
			for i := range msgs {
				inflight++
				wg.Add(1)
				go func(m *store.OutboxMessage) {
					defer wg.Done()
					d.deliver(ctx, m)
					done <- struct{}{}
				}(&msgs[i])
			}
			if len(msgs) == want && inflight < d.cfg.Workers {
				continue // more may be due
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		case <-done:
			inflight--
		}
		for drained := false; !drained; { // every worker that has finished frees its slot before the next claim
			select {
			case <-done:
				inflight--
			default:
				drained = true
			}
		}
	}
}

// claim leases up to n due messages within the shares.
func (d *Deliverer) claim(ctx context.Context, n int) []store.OutboxMessage {
	msgs, err := d.store.ClaimOutboxShared(ctx, d.cfg.Now(), d.cfg.Lease, n,
		store.OutboxShares{Customer: d.cfg.CustomerShare, Destination: d.cfg.DestinationShare})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("outbox: claim", "err", err)
		}
		return nil
	}
	return msgs
}

// deliver makes one attempt at a leased message and records it. Every message carries its webhook-id (the same on
// every attempt) and webhook-timestamp, and both signatures once its customer has a secret.
func (d *Deliverer) deliver(ctx context.Context, m *store.OutboxMessage) {
	req := outbound.Request{Method: m.Method, URL: m.URL, ContentType: m.ContentType, Body: []byte(m.Payload)}
	start := d.cfg.Now()
	var res *outbound.Response
	var err error
	// A secret that cannot be read is a failed attempt like any other: retried, then given up on.
	req.Header, err = d.sign(ctx, m, start)
	if err != nil {
		err = fmt.Errorf("%w: %w", errSign, err)
	} else {
		res, err = d.client.Do(ctx, req)
	}
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and another instance (or this one, restarted) sends it
	}
	attempt := store.OutboxAttempt{Attempt: m.Attempts + 1, TMAttempt: start, DurationMS: int(d.cfg.Now().Sub(start).Milliseconds())}
	state, next := store.OutboxDelivered, start
	switch {
	case err != nil:
		attempt.Error = err.Error()
	case res.Status == http.StatusGone:
		attempt.Status = res.Status
		attempt.Error = "answered 410 Gone: not tried again"
		state = store.OutboxGone
	case res.Status < 200 || res.Status > 299:
		attempt.Status = res.Status
		attempt.Error = fmt.Sprintf("answered %d", res.Status)
	default:
		attempt.Status = res.Status
	}
	if attempt.Error != "" && state != store.OutboxGone {
		state, next = store.OutboxPending, start.Add(d.backoff(attempt.Attempt))
		if attempt.Attempt >= d.cfg.MaxAttempts || next.Sub(m.TMCreate) > d.cfg.RetryFor {
			state = store.OutboxFailed
		}
	}
	if len(attempt.Error) > 1000 {
		attempt.Error = attempt.Error[:1000]
	}
	if d.cfg.Observe != nil {
		d.cfg.Observe(m, attempt.Status, err)
	}
	bg := context.WithoutCancel(ctx)
	if err := d.store.FinishOutboxAttempt(bg, m, attempt, state, next); err != nil {
		d.log.Warn("outbox: record attempt", "message_id", m.ID, "err", err)
	}
	d.noteDestination(bg, m, res, err, start)
}

// noteDestination backs off a destination that did not answer (no answer, 408, 429, 5xx), so that its other
// messages wait in the database instead of taking workers, and clears one that answered after failing. Refusals
// of the outbound guard and unreadable secrets are not the destination's doing: they end a probe without a verdict.
func (d *Deliverer) noteDestination(ctx context.Context, m *store.OutboxMessage, res *outbound.Response, err error, at time.Time) {
	var failing bool
	switch {
	case err != nil:
		failing = !errors.Is(err, outbound.ErrRefused) && !errors.Is(err, errSign)
	default:
		failing = res.Status == http.StatusRequestTimeout || res.Status == http.StatusTooManyRequests || res.Status >= 500
	}
	switch {
	case failing:
		failures := m.DestinationFailures + 1
		if e := d.store.BackOffDestination(ctx, m, failures, at.Add(d.backoff(failures))); e != nil {
			d.log.Warn("outbox: back off destination", "message_id", m.ID, "err", e)
		}
	case m.DestinationFailures > 0: // it answered, or was never asked: its probe is over
		if e := d.store.ClearDestination(ctx, m); e != nil {
			d.log.Warn("outbox: clear destination", "message_id", m.ID, "err", e)
		}
	}
}

func (d *Deliverer) backoff(attempt int) time.Duration {
	b := float64(d.cfg.Backoff) * math.Pow(2, float64(attempt-1))
	if b > float64(d.cfg.MaxBackoff) {
		return d.cfg.MaxBackoff
	}
	return time.Duration(b)
}

func (d *Deliverer) sign(ctx context.Context, m *store.OutboxMessage, at time.Time) (http.Header, error) {
	secret, err := d.secrets(ctx, m.CustomerID)
	if err != nil {
		return nil, err
	}
	if secret == "" {
		h := http.Header{}
		h.Set(HeaderID, m.ID.String())
		h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
		return h, nil
	}
	return SignatureHeaders(secret, m.ID.String(), at, []byte(m.Payload))
}
