package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// deliverWith runs a deliverer on e's database whose requests time out after timeout.
func (e *env) deliverWith(t *testing.T, cfg events.Config, timeout time.Duration) {
	t.Helper()
	allow, _ := outbound.ParseAllow("127.0.0.0/8")
	client := outbound.New(outbound.Config{Allow: allow, Timeout: timeout})
	d := events.New(cfg, e.st, client, e.server.WebhookSecret, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestDeadReceiverDoesNotDelayOthers: bob has thousands of messages queued for a receiver that never answers; two
// instances deliver. Alice's events still arrive within one outbound timeout each, while bob's dead receiver is
// tried by a probe at a time (it costs a worker, not the outbox), and bob's other messages are not burnt through.
func TestDeadReceiverDoesNotDelayOthers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		const timeout = time.Second
		queued := 3000
		if raceDetector && b == storetest.SQLite {
			// Writing the backlog alone takes 15 s there; a thousand shows the same (a claim reads destinations,
			// never the backlog), and the other runs of this test show it with 3,000.
			queued = 1000
		}
		e := newEnv(t, b, allowLoopback)
		second, _ := e.instanceOn(t, server.Config{}, e.stCfg)

		release := make(chan struct{})
		var deadRequests, deadInflight atomic.Int64
		dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			deadRequests.Add(1)
			deadInflight.Add(1)
			defer deadInflight.Add(-1)
			select { // never answers: the client's timeout ends it
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(dead.Close)
		t.Cleanup(func() { close(release) })

		bob := uuid.MustParse(e.bob.customerID)
		msgs := make([]store.OutboxMessage, queued)
		for i := range msgs {
			msgs[i] = store.OutboxMessage{CustomerID: bob, ActiveflowID: uuid.New(), EventType: "webhook_send",
				URL: dead.URL + "/hook", Method: "POST", ContentType: "text/plain", Payload: "ping"}
		}
		if err := e.st.EnqueueOutbox(context.Background(), msgs, nil); err != nil {
			t.Fatal(err)
		}

		rc := newReceiver(t)
		var mu sync.Mutex
		arrived := map[string]time.Time{}
		rc.answer = func(r *http.Request, n int) (int, string) {
			body := rc.requests()[n].Body
			mu.Lock()
			defer mu.Unlock()
			var ev struct{ Data struct{ ID string } }
			if json.Unmarshal(body, &ev) == nil {
				if _, ok := arrived[ev.Data.ID]; !ok {
					arrived[ev.Data.ID] = time.Now()
				}
			}
			return http.StatusOK, ""
		}
		// Retries and back-off of a tenth of a second: bob's dead receiver is tried again and again meanwhile.
		cfg := events.Config{Workers: 4, CustomerShare: 2, Backoff: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			Poll: 20 * time.Millisecond, Lease: 3 * timeout}
		e.deliverWith(t, cfg, timeout)
		second.deliverWith(t, cfg, timeout)
		eventually(t, "bob's dead receiver is being tried", func() bool { return deadInflight.Load() > 0 })

		var worst time.Duration
		busy := 0
		for i := range 6 {
			if deadInflight.Load() > 0 {
				busy++
			}
			start := time.Now()
			a := e.startActiveflow(e.alice, `{"actions":[{"type":"talk","option":{"text":"hi"}}],"webhook_uri":"`+rc.URL+`/events"}`)
			eventually(t, "alice's event", func() bool { mu.Lock(); defer mu.Unlock(); _, ok := arrived[a.ID]; return ok })
			mu.Lock()
			took := arrived[a.ID].Sub(start)
			mu.Unlock()
			worst = max(worst, took)
			if took >= timeout {
				t.Errorf("alice's event %d arrived %s after its commit, more than one outbound timeout (%s)", i, took, timeout)
			}
		}
		if busy == 0 {
			t.Error("bob's dead receiver was never busy while alice's events were sent: the test proves nothing")
		}
		// Bob's messages to the dead receiver cost a probe at a time: most of them were never attempted.
		n, err := e.st.OutboxDepth(context.Background())
		if err != nil || n < int64(queued-20) {
			t.Errorf("%d of bob's %d messages still pending (%v): the dead receiver burnt through them", n, queued, err)
		}
		if got := deadRequests.Load(); got > 20 {
			t.Errorf("the dead receiver was sent %d requests in a few seconds", got)
		}
		t.Logf("%s: alice's slowest event took %s; the dead receiver got %d requests", b, worst, deadRequests.Load())
	})
}

// TestOverTheCapIsDropped: a customer with FLOWBIN_EVENTS_MAX_PENDING messages waiting still runs its calls; what
// they would add is listed as dropped by GET /v1.0/activeflows/{id}/events (as the spec says) and never sent. Each
// start owes two events (activeflow_created, and activeflow_updated for the talk it moved to): a cap of four holds
// the first two activeflows' and drops the third's.
func TestOverTheCapIsDropped(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, allowLoopback)
		stCfg := e.stCfg
		stCfg.OutboxMaxPending = 4
		capped, _ := e.instanceOn(t, server.Config{}, stCfg)
		rc := newReceiver(t)
		var ids []string
		for range 3 {
			a := capped.startActiveflow(e.alice, `{"actions":[{"type":"talk","option":{"text":"hi"}}],"webhook_uri":"`+rc.URL+`/events"}`)
			ids = append(ids, a.ID)
		}
		var list struct {
			Result []struct{ State string }
		}
		for i, id := range ids {
			capped.as(e.alice, "GET", "/v1.0/activeflows/"+id+"/events", nil).wantStatus(http.StatusOK).decode(&list)
			want := "pending"
			if i == 2 {
				want = "dropped"
			}
			if len(list.Result) != 2 || list.Result[0].State != want || list.Result[1].State != want {
				t.Errorf("activeflow %d: %+v, want two %s messages", i, list.Result, want)
			}
		}
		if got := capped.st.OutboxDropped(); got != 2 {
			t.Errorf("dropped counted %d, want 2", got)
		}
		capped.deliverWith(t, events.Config{Poll: 10 * time.Millisecond}, time.Second)
		eventually(t, "the four pending events", func() bool { return len(rc.requests()) >= 4 })
		capped.as(e.alice, "GET", "/v1.0/activeflows/"+ids[2]+"/events", nil).wantStatus(http.StatusOK).decode(&list)
		if n := len(rc.requests()); n != 4 || len(list.Result) != 2 || list.Result[0].State != "dropped" || list.Result[1].State != "dropped" {
			t.Errorf("%d requests; the dropped messages are %+v", n, list.Result)
		}
	})
}
