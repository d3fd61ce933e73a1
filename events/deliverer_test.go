package events_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// loopback is a receiver on the loopback address: it records every request and answers as told.
type loopback struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	answer func(n int) int
}

type delivery struct {
	Header http.Header
	Body   []byte
}

func newLoopback(t *testing.T, answer func(n int) int) *loopback {
	t.Helper()
	l := &loopback{answer: answer}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		n := len(l.got)
		l.got = append(l.got, delivery{r.Header.Clone(), body})
		l.mu.Unlock()
		status := http.StatusOK
		if l.answer != nil {
			status = l.answer(n)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(l.Close)
	return l
}

func (l *loopback) deliveries() []delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]delivery(nil), l.got...)
}

// fixture is a store with one customer, and a deliverer on it whose customer has secret ("" for none).
type fixture struct {
	st       *store.Store
	customer uuid.UUID
}

func newFixture(t *testing.T, b storetest.Backend) *fixture {
	t.Helper()
	st := storetest.Open(t, b)
	c, err := st.EnsureCustomer(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, customer: c.ID}
}

func (fx *fixture) run(t *testing.T, secret string, cfg events.Config) {
	t.Helper()
	allow, _ := outbound.ParseAllow("127.0.0.0/8")
	client := outbound.New(outbound.Config{Allow: allow, Timeout: 2 * time.Second})
	if cfg.Backoff == 0 {
		cfg.Backoff = 20 * time.Millisecond
	}
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Millisecond
	}
	secrets := func(context.Context, uuid.UUID) (string, error) { return secret, nil }
	d := events.New(cfg, fx.st, client, secrets, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (fx *fixture) enqueue(t *testing.T, activeflow uuid.UUID, msgs ...store.OutboxMessage) {
	t.Helper()
	for i := range msgs {
		msgs[i].CustomerID, msgs[i].ActiveflowID = fx.customer, activeflow
	}
	if err := fx.st.EnqueueOutbox(context.Background(), msgs, nil); err != nil {
		t.Fatal(err)
	}
}

// eventually waits for cond, for at most 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDelivererSignsEveryMessage: an event and a queued webhook_send each arrive with their webhook-id (the
// message's id) and both signatures under the customer's secret; without a secret, with the id and no signature.
func TestDelivererSignsEveryMessage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		for _, secret := range []string{specSecret, ""} {
			fx := newFixture(t, b)
			rc := newLoopback(t, nil)
			af := uuid.New()
			fx.enqueue(t, af,
				store.OutboxMessage{EventType: "activeflow_created", URL: rc.URL + "/events", Method: "POST", ContentType: "application/json",
					Payload: `{"type":"activeflow_created","data":{}}`, Signed: true},
				store.OutboxMessage{EventType: "webhook_send", URL: rc.URL + "/hook", Method: "PUT", ContentType: "text/plain", Payload: "hello"})
			fx.run(t, secret, events.Config{})
			eventually(t, "two deliveries", func() bool { return len(rc.deliveries()) == 2 })
			list, err := fx.st.ListOutbox(context.Background(), fx.customer, af, 10)
			if err != nil {
				t.Fatal(err)
			}
			ids := map[string]bool{}
			for _, m := range list {
				ids[m.ID.String()] = true
			}
			for _, d := range rc.deliveries() {
				if !ids[d.Header.Get(events.HeaderID)] || d.Header.Get(events.HeaderTimestamp) == "" {
					t.Errorf("secret %q: webhook-id %q is not a message's id (%v)", secret, d.Header.Get(events.HeaderID), ids)
				}
				err := verifyDelivery(secret, d.Header, d.Body, time.Now())
				switch {
				case secret != "" && err != nil:
					t.Errorf("%s: %v", d.Body, err)
				case secret == "" && (d.Header.Get(events.HeaderSignature) != "" || d.Header.Get(events.HeaderVoIPbin) != ""):
					t.Errorf("signed without a secret: %v", d.Header)
				}
			}
		}
	})
}

// TestDelivererStopsOnGone: a 410 ends its message at once (state gone, one attempt); a 400 is retried as before.
func TestDelivererStopsOnGone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fx := newFixture(t, b)
		gone := newLoopback(t, func(int) int { return http.StatusGone })
		bad := newLoopback(t, func(n int) int {
			if n < 2 {
				return http.StatusBadRequest
			}
			return http.StatusNoContent
		})
		af := uuid.New()
		fx.enqueue(t, af,
			store.OutboxMessage{EventType: "webhook_send", URL: gone.URL, Method: "POST", Payload: "a"},
			store.OutboxMessage{EventType: "webhook_send", URL: bad.URL, Method: "POST", Payload: "b"})
		fx.run(t, "", events.Config{})
		states := func() map[string]store.OutboxMessage {
			list, _ := fx.st.ListOutbox(context.Background(), fx.customer, af, 10)
			out := map[string]store.OutboxMessage{}
			for _, m := range list {
				out[m.URL] = m
			}
			return out
		}
		eventually(t, "both done", func() bool {
			s := states()
			return s[gone.URL].State != store.OutboxPending && s[bad.URL].State != store.OutboxPending
		})
		s := states()
		if m := s[gone.URL]; m.State != store.OutboxGone || len(m.Log) != 1 || m.Log[0].Status != 410 {
			t.Errorf("answered 410: %s after %+v", m.State, m.Log)
		}
		if m := s[bad.URL]; m.State != store.OutboxDelivered || len(m.Log) != 3 || m.Log[0].Status != 400 {
			t.Errorf("answered 400, 400, 204: %s after %+v", m.State, m.Log)
		}
		if n := len(gone.deliveries()); n != 1 {
			t.Errorf("the gone receiver got %d requests", n)
		}
	})
}

// TestDelivererBacksOffADeadDestination: a destination that answers 503 is backed off as a whole: with many
// messages queued for it, it gets one probe per back-off, not one request per message.
func TestDelivererBacksOffADeadDestination(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fx := newFixture(t, b)
		down := newLoopback(t, func(int) int { return http.StatusServiceUnavailable })
		up := newLoopback(t, nil)
		af := uuid.New()
		var msgs []store.OutboxMessage
		for range 50 {
			msgs = append(msgs, store.OutboxMessage{EventType: "webhook_send", URL: down.URL + "/x", Method: "POST", Payload: "x"})
		}
		fx.enqueue(t, af, msgs...)
		fx.run(t, "", events.Config{Backoff: 200 * time.Millisecond, MaxBackoff: time.Second, Workers: 8, CustomerShare: 4})
		eventually(t, "the first failures", func() bool { return len(down.deliveries()) > 0 })
		first := time.Now()
		fx.enqueue(t, af, store.OutboxMessage{EventType: "webhook_send", URL: up.URL, Method: "POST", Payload: "y"})
		eventually(t, "the healthy destination", func() bool { return len(up.deliveries()) == 1 })
		start := time.Now()
		eventually(t, "a second of back-off", func() bool { return time.Since(start) > time.Second })
		// At most two shares (4 each) at first — workers freed by the first failures may claim again before the
		// back-off they record is seen — then one probe per back-off (200 ms, 400 ms, 800 ms, then 1 s each) in the
		// time since the first failures (longer than a second on a loaded machine), and one more in flight: far
		// fewer than the 50 messages queued.
		elapsed, probes := time.Since(first), 0
		for wait, backoff := time.Duration(0), 200*time.Millisecond; wait+backoff <= elapsed; backoff = min(2*backoff, time.Second) {
			wait += backoff
			probes++
		}
		if n, most := len(down.deliveries()), 2*4+probes+1; n > most {
			t.Errorf("the dead destination got %d requests in %v, want at most %d", n, elapsed.Round(time.Millisecond), most)
		}
	})
}
