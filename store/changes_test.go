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
	"github.com/jackc/pgx/v5"

	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// recorder is a ChangeListener that remembers what it heard.
type recorder struct {
	mu      sync.Mutex
	changed []uuid.UUID
	live    bool
	resets  int
}

func (r *recorder) FlowChanged(id uuid.UUID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changed = append(r.changed, id)
}

func (r *recorder) ChangesReset(live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live = live
	r.resets++
}

func (r *recorder) heard() ([]uuid.UUID, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changed), r.live
}

// TestChangesDeliveredOnCommit: this process's listeners hear of a change when it commits, never of one rolled
// back, on both stores.
func TestChangesDeliveredOnCommit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fx := newFixture(t, b)
		ctx, cancel := context.WithCancel(context.Background())
		rec := &recorder{}
		done := make(chan struct{})
		go func() { defer close(done); fx.st.WatchFlowChanges(ctx, rec) }()
		defer func() { cancel(); <-done }()
		deadline := time.Now().Add(10 * time.Second)
		for _, live := rec.heard(); !live; _, live = rec.heard() {
			if time.Now().After(deadline) {
				t.Fatal("the watch did not go live")
			}
			time.Sleep(time.Millisecond)
		}

		f := mustCreateFlow(t, fx.st, fx.alice, "one")
		if got, _ := rec.heard(); slices.Contains(got, f.ID) {
			t.Fatal("a new flow is no change of a cached one")
		}
		rolledBack := errors.New("rolled back")
		err := fx.st.InTx(ctx, func(ctx context.Context) error {
			if _, err := fx.st.UpdateFlow(ctx, fx.alice, f.ID, mustDefinition(t, `{"name":"two"}`), tester, nil); err != nil {
				return err
			}
			if got, _ := rec.heard(); slices.Contains(got, f.ID) {
				t.Error("a change was delivered before it committed")
			}
			return rolledBack
		})
		if !errors.Is(err, rolledBack) {
			t.Fatal(err)
		}
		if got, _ := rec.heard(); slices.Contains(got, f.ID) {
			t.Fatal("a rolled-back change was delivered")
		}
		if _, err := fx.st.UpdateFlow(ctx, fx.alice, f.ID, mustDefinition(t, `{"name":"two"}`), tester, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := rec.heard(); !slices.Contains(got, f.ID) {
			t.Fatal("a committed change was not delivered by the time the write returned")
		}
		before, _ := rec.heard()
		if err := fx.st.DeleteFlow(ctx, fx.alice, f.ID, nil); err != nil {
			t.Fatal(err)
		}
		// On PostgreSQL the listener may also hear, at any moment, the announcement of this process's own update
		// (other instances need it): a repeat, harmless to a cache. The delete must be heard by the time it returns.
		got, _ := rec.heard()
		if len(got) <= len(before) || got[len(got)-1] != f.ID {
			t.Fatalf("heard %v, then %v: want the delete by the time it returned", before, got)
		}
		for _, id := range got {
			if id != f.ID {
				t.Fatalf("heard %v: only %s changed", got, f.ID)
			}
		}
	})
}

// TestChangesAnnounced: on PostgreSQL every change of a flow is announced once on flowbin_flow_changed: flowbin's
// own by the store after they commit (the trigger stays quiet for its connections), anyone else's by the trigger.
func TestChangesAnnounced(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config(t, storetest.Postgres)
	ctx := context.Background()
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	customer, err := st.EnsureCustomer(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	listener, err := pgx.Connect(ctx, cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	if _, err := listener.Exec(ctx, "LISTEN flowbin_flow_changed"); err != nil {
		t.Fatal(err)
	}
	// notifications collects what is announced until now: it queues a marker on the store's announcer, which
	// sends in order, after every change queued before (and a change made with SQL is announced when it commits,
	// before the marker), and returns the payloads that arrive before the marker, without it.
	notifications := func() []string {
		t.Helper()
		marker := uuid.New()
		st.Announce(marker)
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var got []string
		for {
			n, err := listener.WaitForNotification(wctx)
			if err != nil {
				t.Fatalf("the marker was not announced: %v (heard %v)", err, got)
			}
			ids := strings.Split(n.Payload, ",")
			if i := slices.Index(ids, marker.String()); i >= 0 {
				if rest := slices.Delete(ids, i, i+1); len(rest) > 0 {
					got = append(got, strings.Join(rest, ","))
				}
				return got
			}
			got = append(got, n.Payload)
		}
	}
	count := func(payloads []string, id uuid.UUID) int {
		n := 0
		for _, p := range payloads {
			n += strings.Count(p, id.String())
		}
		return n
	}

	f := mustCreateFlow(t, st, customer.ID, "one")
	if got := notifications(); count(got, f.ID) != 0 {
		t.Fatalf("creating a flow announced it: %v", got)
	}
	if _, err := st.UpdateFlow(ctx, customer.ID, f.ID, mustDefinition(t, `{"name":"two"}`), tester, nil); err != nil {
		t.Fatal(err)
	}
	if got := notifications(); count(got, f.ID) != 1 {
		t.Fatalf("an update by flowbin: notifications %v, want the flow's id once", got)
	}
	db, err := pgx.Connect(ctx, cfg.URL) // not flowbin's pool: the trigger announces
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, "UPDATE flows SET name = 'by sql' WHERE id = $1", f.ID); err != nil {
		t.Fatal(err)
	}
	if got := notifications(); len(got) != 1 || got[0] != f.ID.String() {
		t.Fatalf("an update with SQL: notifications %v, want the flow's id", got)
	}
	if err := st.DeleteFlow(ctx, customer.ID, f.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := notifications(); count(got, f.ID) != 1 {
		t.Fatalf("a delete by flowbin: notifications %v, want the flow's id once", got)
	}
	// Many changes at once are announced in few notifications, none lost.
	var ids []uuid.UUID
	for i := range 100 {
		g := mustCreateFlow(t, st, customer.ID, "many")
		ids = append(ids, g.ID)
		if _, err := st.UpdateFlow(ctx, customer.ID, g.ID, mustDefinition(t, `{"name":"many `+uuid.NewString()+`"}`), tester, nil); err != nil {
			t.Fatal(i, err)
		}
	}
	got := notifications()
	for _, id := range ids {
		if count(got, id) != 1 {
			t.Fatalf("flow %s announced %d times in %d notifications", id, count(got, id), len(got))
		}
	}
}
