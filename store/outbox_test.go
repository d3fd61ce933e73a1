package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestOutboxRoundTripAndSweep: a message is stored and read back as written, its attempts with it; one that is
// done is listed for OutboxRetention, then Sweep drops it with its attempts, and never one still pending.
func TestOutboxRoundTripAndSweep(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fx := newFixture(t, b)
		ctx := context.Background()
		af := uuid.New()
		msgs := []store.OutboxMessage{
			{CustomerID: fx.alice, ActiveflowID: af, EventType: "activeflow_created", URL: "https://example.com/a",
				Method: "POST", ContentType: "application/json", Payload: `{"type":"activeflow_created","data":{"a":">="}}`, Signed: true},
			{CustomerID: fx.alice, ActiveflowID: af, EventType: "webhook_send", URL: "https://example.com/b",
				Method: "PUT", ContentType: "text/plain", Payload: "hello"},
		}
		if err := fx.st.EnqueueOutbox(ctx, msgs, nil); err != nil {
			t.Fatal(err)
		}
		claimed, err := fx.st.ClaimOutbox(ctx, t0, time.Minute, 1)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		if again, _ := fx.st.ClaimOutbox(ctx, t0, time.Minute, 10); len(again) != 1 || again[0].ID == claimed[0].ID {
			t.Fatalf("a leased message is not claimed twice: %v", again)
		}
		m := claimed[0]
		if err := fx.st.FinishOutboxAttempt(ctx, &m, store.OutboxAttempt{Attempt: 1, TMAttempt: t0, Status: 200, DurationMS: 3},
			store.OutboxDelivered, t0); err != nil {
			t.Fatal(err)
		}
		if err := fx.st.FinishOutboxAttempt(ctx, &m, store.OutboxAttempt{Attempt: 1, TMAttempt: t0}, store.OutboxPending, t0); !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("a second finish of the same lease: %v", err)
		}
		list, err := fx.st.ListOutbox(ctx, fx.alice, af, 10)
		if err != nil || len(list) != 2 {
			t.Fatalf("list: %v %v", list, err)
		}
		byID := map[uuid.UUID]store.OutboxMessage{}
		for _, x := range list {
			byID[x.ID] = x
		}
		for _, want := range msgs {
			got := byID[want.ID]
			if got.Payload != want.Payload || got.URL != want.URL || got.Method != want.Method || got.ContentType != want.ContentType ||
				got.Signed != want.Signed || got.EventType != want.EventType {
				t.Errorf("read back %+v, want %+v", got, want)
			}
		}
		if d := byID[m.ID]; d.State != store.OutboxDelivered || len(d.Log) != 1 || d.Log[0].Status != 200 || d.Log[0].DurationMS != 3 {
			t.Errorf("the delivered message: %+v", d)
		}
		if other, _ := fx.st.ListOutbox(ctx, fx.bob, af, 10); len(other) != 0 {
			t.Errorf("another customer sees %d messages", len(other))
		}

		fx.clock.Set(t0.Add(store.OutboxRetention - time.Hour))
		if err := fx.st.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if list, _ := fx.st.ListOutbox(ctx, fx.alice, af, 10); len(list) != 2 {
			t.Fatalf("swept too early: %d left", len(list))
		}
		fx.clock.Set(t0.Add(store.OutboxRetention + time.Hour))
		if err := fx.st.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		list, _ = fx.st.ListOutbox(ctx, fx.alice, af, 10)
		if len(list) != 1 || list[0].State != store.OutboxPending {
			t.Fatalf("after the retention: %+v, want only the pending message", list)
		}
		if n, err := fx.st.OutboxDepth(ctx); err != nil || n != 1 {
			t.Errorf("depth %d, %v", n, err)
		}
	})
}

// TestOutboxCapAndShares: a customer's messages beyond OutboxMaxPending are recorded as dropped and counted, never
// claimed; a claim gives each customer at most its share in flight (counting what is leased already), every
// customer's first message before anyone's second; a destination backed off is not claimed until its time, then
// by a single probe, and an answer clears it.
func TestOutboxCapAndShares(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		clock := storetest.NewClock(t0)
		st := storetest.Open(t, b, storetest.WithClock(clock), func(c *store.Config) { c.OutboxMaxPending = 5 })
		ctx := context.Background()
		alice, _ := st.EnsureCustomer(ctx, "alice")
		bob, _ := st.EnsureCustomer(ctx, "bob")
		msg := func(c uuid.UUID, url string) store.OutboxMessage {
			return store.OutboxMessage{CustomerID: c, ActiveflowID: uuid.New(), EventType: "webhook_send", URL: url,
				Method: "POST", ContentType: "text/plain", Payload: "x"}
		}
		var bobs []store.OutboxMessage
		for i := range 7 {
			url := "https://dead.example/" // bob: 4 to a dead receiver, 3 to another
			if i >= 4 {
				url = "https://other.example:443/x"
			}
			bobs = append(bobs, msg(bob.ID, url))
		}
		if err := st.EnqueueOutbox(ctx, bobs, nil); err != nil {
			t.Fatal(err)
		}
		if err := st.EnqueueOutbox(ctx, []store.OutboxMessage{msg(alice.ID, "https://alice.example/a"), msg(alice.ID, "https://alice.example/b")}, nil); err != nil {
			t.Fatal(err)
		}
		states := map[string]int{}
		for _, m := range bobs {
			states[m.State]++
		}
		if states[store.OutboxPending] != 5 || states[store.OutboxDropped] != 2 || st.OutboxDropped() != 2 {
			t.Fatalf("bob's 7 messages under a cap of 5: %v, counted %d", states, st.OutboxDropped())
		}
		if bobs[6].Destination != "https://other.example" {
			t.Errorf("destination %q", bobs[6].Destination)
		}
		if n, _ := st.OutboxDepth(ctx); n != 7 {
			t.Errorf("depth %d, want 7 (dropped messages do not wait)", n)
		}

		shares := store.OutboxShares{Customer: 2, Destination: 1}
		first, err := st.ClaimOutboxShared(ctx, t0, time.Minute, 3, shares)
		if err != nil || len(first) != 3 {
			t.Fatalf("claim: %v %v", first, err)
		}
		perCustomer := map[uuid.UUID]int{}
		for _, m := range first {
			perCustomer[m.CustomerID]++
		}
		if perCustomer[alice.ID] < 1 || perCustomer[bob.ID] < 1 {
			t.Errorf("every customer's first message comes first: %v", perCustomer)
		}
		rest, err := st.ClaimOutboxShared(ctx, t0, time.Minute, 10, shares)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rest {
			perCustomer[m.CustomerID]++
		}
		if perCustomer[alice.ID] != 1 || perCustomer[bob.ID] != 2 {
			t.Errorf("in flight: alice %d (1 destination of share 1), bob %d (share 2)", perCustomer[alice.ID], perCustomer[bob.ID])
		}

		// Bob's dead destination fails: backed off for a second; its leases end.
		var dead store.OutboxMessage
		for _, m := range append(first, rest...) {
			if m.Destination == "https://dead.example" {
				dead = m
			}
			if err := st.FinishOutboxAttempt(ctx, &m, store.OutboxAttempt{Attempt: 1, TMAttempt: t0}, store.OutboxPending, t0); err != nil {
				t.Fatal(err)
			}
		}
		if dead.ID == uuid.Nil {
			t.Fatal("the dead destination was not claimed")
		}
		if err := st.BackOffDestination(ctx, &dead, 1, t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		wide := store.OutboxShares{Customer: 10, Destination: 10}
		during, _ := st.ClaimOutboxShared(ctx, t0.Add(500*time.Millisecond), time.Millisecond, 10, wide)
		for _, m := range during {
			if m.Destination == "https://dead.example" {
				t.Errorf("a backed-off destination was claimed: %s", m.URL)
			}
		}
		after, _ := st.ClaimOutboxShared(ctx, t0.Add(2*time.Second), time.Minute, 10, wide)
		probes := 0
		for _, m := range after {
			if m.Destination == "https://dead.example" {
				probes++
				dead = m
			}
		}
		if probes != 1 || dead.DestinationFailures != 1 {
			t.Errorf("after its back-off, %d probes of the failing destination (want 1), failures %d", probes, dead.DestinationFailures)
		}
		if err := st.ClearDestination(ctx, &dead); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishOutboxAttempt(ctx, &dead, store.OutboxAttempt{Attempt: 2, TMAttempt: t0}, store.OutboxPending, t0); err != nil {
			t.Fatal(err)
		}
		healed, _ := st.ClaimOutboxShared(ctx, t0.Add(3*time.Second), time.Minute, 10, wide)
		if n := countDestination(healed, "https://dead.example"); n != 4 {
			t.Errorf("a cleared destination is claimed in full again: %d of 4", n)
		}

		// Destinations are swept an hour after they were last used, once nothing waits for them.
		gone := store.OutboxMessage{CustomerID: alice.ID, Destination: "https://gone.example"}
		if err := st.BackOffDestination(ctx, &gone, 3, t0); err != nil {
			t.Fatal(err)
		}
		if err := st.BackOffDestination(ctx, &healed[0], 1, t0); err != nil { // still has messages pending
			t.Fatal(err)
		}
		clock.Set(t0.Add(2 * time.Hour))
		if err := st.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		left, err := st.BackedOffDestinations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(left, "https://gone.example") || !slices.Contains(left, "https://dead.example") {
			t.Errorf("after the sweep: %v, want https://gone.example forgotten and https://dead.example (messages wait for it) kept", left)
		}
	})
}

func countDestination(msgs []store.OutboxMessage, dest string) int {
	n := 0
	for _, m := range msgs {
		if m.Destination == dest {
			n++
		}
	}
	return n
}
