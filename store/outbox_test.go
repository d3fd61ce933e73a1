package store_test

import (
	"context"
	"errors"
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
