package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestNumbers: a live number belongs to one customer at a time (calls are routed by number alone); deleting it
// frees it; another customer's number is not found; an update changes only what it names.
func TestNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		t.Parallel()
		fx := newFixture(t, b)
		ctx := context.Background()
		f := mustCreateFlow(t, fx.st, fx.alice, "ivr")
		n := &store.Number{CustomerID: fx.alice, Number: "+15551230001", CallFlowID: &f.ID, Name: "support"}
		if err := fx.st.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := fx.st.CreateNumber(ctx, &store.Number{CustomerID: fx.bob, Number: "+15551230001"}); !errors.Is(err, store.ErrNumberTaken) {
			t.Fatalf("another customer's live number: got %v, want ErrNumberTaken", err)
		}
		if _, err := fx.st.GetNumber(ctx, fx.bob, n.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob reads alice's number: got %v, want not found", err)
		}
		got, err := fx.st.NumberByValue(ctx, "+15551230001")
		if err != nil || got.ID != n.ID || got.CallFlowID == nil || *got.CallFlowID != f.ID {
			t.Fatalf("by value: %+v %v", got, err)
		}
		detail := "after hours"
		upd, err := fx.st.UpdateNumber(ctx, fx.alice, n.ID, store.NumberChange{CallFlowID: &uuid.Nil, Detail: &detail})
		if err != nil || upd.CallFlowID != nil || upd.Detail != detail || upd.Name != "support" || upd.TMUpdate == nil {
			t.Fatalf("update: %+v %v", upd, err)
		}
		if _, err := fx.st.UpdateNumber(ctx, fx.bob, n.ID, store.NumberChange{Detail: &detail}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob updates alice's number: got %v, want not found", err)
		}
		del, err := fx.st.DeleteNumber(ctx, fx.alice, n.ID)
		if err != nil || del.TMDelete == nil {
			t.Fatalf("delete: %+v %v", del, err)
		}
		if _, err := fx.st.NumberByValue(ctx, "+15551230001"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a deleted number still routes: %v", err)
		}
		if err := fx.st.CreateNumber(ctx, &store.Number{CustomerID: fx.bob, Number: "+15551230001"}); err != nil {
			t.Errorf("a deleted number is free again: %v", err)
		}
		list, err := fx.st.ListNumbers(ctx, fx.alice, store.Page{})
		if err != nil || len(list) != 0 {
			t.Errorf("alice lists %v (%v), want none", list, err)
		}
	})
}

// TestDirectHash: a regenerated hash routes to its flow, replaces the one before, and survives updates of the
// flow's definition.
func TestDirectHash(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		t.Parallel()
		fx := newFixture(t, b)
		ctx := context.Background()
		f := mustCreateFlow(t, fx.st, fx.alice, "direct")
		if f.DirectHash != nil {
			t.Fatalf("a new flow has direct hash %q", *f.DirectHash)
		}
		one, err := fx.st.RegenerateDirectHash(ctx, fx.alice, f.ID)
		if err != nil || one.DirectHash == nil || !strings.HasPrefix(*one.DirectHash, store.DirectHashPrefix) ||
			len(*one.DirectHash) != len(store.DirectHashPrefix)+12 || one.Revision != f.Revision {
			t.Fatalf("regenerate: %+v %v", one, err)
		}
		two, err := fx.st.RegenerateDirectHash(ctx, fx.alice, f.ID)
		if err != nil || *two.DirectHash == *one.DirectHash {
			t.Fatalf("regenerate again: %+v %v", two, err)
		}
		if _, err := fx.st.FlowByDirectHash(ctx, *one.DirectHash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the old hash still routes: %v", err)
		}
		if got, err := fx.st.FlowByDirectHash(ctx, *two.DirectHash); err != nil || got.ID != f.ID {
			t.Errorf("the new hash: %+v %v", got, err)
		}
		if _, err := fx.st.RegenerateDirectHash(ctx, fx.bob, f.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob regenerates alice's hash: %v", err)
		}
		upd, err := fx.st.UpdateFlow(ctx, fx.alice, f.ID, mustDefinition(t, `{"name":"renamed","actions":[{"type":"answer"}]}`), tester, nil)
		if err != nil || upd.DirectHash == nil || *upd.DirectHash != *two.DirectHash {
			t.Errorf("an update of the definition keeps the hash: %+v %v", upd, err)
		}
	})
}

type hangupRecorder struct {
	recorder
	mu    sync.Mutex
	calls []uuid.UUID
}

func (r *hangupRecorder) CallHangupRequested(id uuid.UUID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, id)
}

func (r *hangupRecorder) hangups() []uuid.UUID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// TestCallHangupRequested: a hangup request moves a call to terminating (canceling before an outgoing call is
// answered) and is heard by every instance once committed; a call that has ended stays as it is.
func TestCallHangupRequested(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		t.Parallel()
		ctx := context.Background()
		cfg := storetest.Config(t, b)
		st, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		// The other instance: on PostgreSQL a second store on the same database; SQLite has one process.
		other := st
		if b == storetest.Postgres {
			cfg.Migrate = false
			if other, err = store.Open(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
		}
		customer, err := st.EnsureCustomer(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		rec := &hangupRecorder{}
		watchCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); other.WatchFlowChanges(watchCtx, rec) }()
		t.Cleanup(func() { cancel(); <-done })
		waitFor(t, func() bool { _, live := rec.heard(); return live })

		in := &store.Call{CustomerID: customer.ID, Direction: "incoming", Status: store.CallProgressing,
			Source: store.Address{Type: "sip", Target: "sip:alice@127.0.0.1"}, Destination: store.Address{Type: "tel", Target: "+15551230001"}}
		now := st.Now()
		in.TMProgressing = &now
		out := &store.Call{CustomerID: customer.ID, Direction: "outgoing", Status: store.CallRinging,
			Source: store.Address{Type: "tel", Target: "+15551230001"}, Destination: store.Address{Type: "sip", Target: "sip:bob@127.0.0.1"}}
		ended := &store.Call{CustomerID: customer.ID, Direction: "incoming", Status: store.CallHangup, HangupBy: "remote", HangupReason: "normal"}
		for _, c := range []*store.Call{in, out, ended} {
			if err := st.CreateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			call *store.Call
			want string
		}{{in, store.CallTerminating}, {out, store.CallCanceling}, {ended, store.CallHangup}} {
			got, err := st.RequestCallHangup(ctx, customer.ID, tc.call.ID)
			if err != nil || got.Status != tc.want {
				t.Errorf("hangup of a %s %s call: %+v %v, want %s", tc.call.Status, tc.call.Direction, got, err, tc.want)
			}
		}
		waitFor(t, func() bool {
			h := rec.hangups()
			return slices.Contains(h, in.ID) && slices.Contains(h, out.ID)
		})
		if slices.Contains(rec.hangups(), ended.ID) {
			t.Error("a call that has ended was announced")
		}
		if _, err := st.RequestCallHangup(ctx, uuid.New(), in.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another customer's call: %v", err)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
