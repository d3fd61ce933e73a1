package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

var t0 = time.Date(2020, 10, 11, 1, 0, 0, 1000, time.UTC)

// fixture is a store with a clock and two customers.
type fixture struct {
	st         *store.Store
	clock      *storetest.Clock
	alice, bob uuid.UUID
}

func newFixture(t *testing.T, b storetest.Backend) *fixture {
	t.Helper()
	clock := storetest.NewClock(t0)
	st := storetest.Open(t, b, storetest.WithClock(clock))
	ctx := context.Background()
	a, err := st.EnsureCustomer(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	bb, err := st.EnsureCustomer(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, clock: clock, alice: a.ID, bob: bb.ID}
}

func mustDefinition(t *testing.T, doc string) *flow.Definition {
	t.Helper()
	def, rep := flow.Parse([]byte(doc), flow.Limits{})
	if !rep.Valid() {
		t.Fatalf("definition %s: %v", doc, rep.Err())
	}
	return def
}

var tester = store.Author{Type: "user", ID: uuid.MustParse("7a1c0f64-2b3d-4e5f-8a9b-0c1d2e3f4a5b"), Name: "tester"}

func mustCreateFlow(t *testing.T, st *store.Store, customer uuid.UUID, name string) *store.Flow {
	t.Helper()
	f, err := st.CreateFlow(context.Background(), customer,
		mustDefinition(t, fmt.Sprintf(`{"name":%q,"actions":[{"type":"answer"}]}`, name)), tester)
	if err != nil {
		t.Fatalf("create flow: %v", err)
	}
	return f
}

func TestFlowLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fx := newFixture(t, b)
		ctx := context.Background()
		def := mustDefinition(t, `{"name":"test flow","detail":"d","actions":[
			{"type":"play","option":{"stream_url":["https://example.com/a.wav"],"x-legacy":1.50}},
			{"id":"end","type":"hangup"}]}`)
		created, err := fx.st.CreateFlow(ctx, fx.alice, def, tester)
		if err != nil {
			t.Fatal(err)
		}
		if !created.TMCreate.Equal(t0) || created.TMUpdate != nil || created.TMDelete != nil {
			t.Errorf("timestamps after create: got %v %v %v, want %v nil nil",
				created.TMCreate, created.TMUpdate, created.TMDelete, t0)
		}
		got, err := fx.st.GetFlow(ctx, fx.alice, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "test flow" || got.Detail != "d" || len(got.Actions) != 2 {
			t.Fatalf("got %+v, want the created flow", got)
		}
		var opt map[string]any
		if err := json.Unmarshal(got.Actions[0].Option, &opt); err != nil {
			t.Fatal(err)
		}
		if opt["x-legacy"] != 1.5 || opt["stream_url"] == nil {
			t.Errorf("option: got %s, want the option as sent", got.Actions[0].Option)
		}
		if got.Actions[0].ID != def.Actions[0].ID {
			t.Errorf("action id: got %s, want %s", got.Actions[0].ID, def.Actions[0].ID)
		}

		if _, err := fx.st.GetFlow(ctx, fx.bob, created.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another customer's get: got %v, want ErrNotFound", err)
		}
		if _, err := fx.st.UpdateFlow(ctx, fx.bob, created.ID, def, tester, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another customer's update: got %v, want ErrNotFound", err)
		}
		if err := fx.st.DeleteFlow(ctx, fx.bob, created.ID, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another customer's delete: got %v, want ErrNotFound", err)
		}

		fx.clock.Advance(time.Second)
		updated, err := fx.st.UpdateFlow(ctx, fx.alice, created.ID, mustDefinition(t, `{"name":"renamed"}`), tester, nil)
		if err != nil {
			t.Fatal(err)
		}
		if updated.Name != "renamed" || updated.Detail != "" || len(updated.Actions) != 0 {
			t.Errorf("update replaces wholesale: got %+v", updated)
		}
		if !updated.TMCreate.Equal(t0) || updated.TMUpdate == nil || !updated.TMUpdate.Equal(t0.Add(time.Second)) {
			t.Errorf("timestamps after update: got %v %v", updated.TMCreate, updated.TMUpdate)
		}

		if err := fx.st.DeleteFlow(ctx, fx.alice, created.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.st.GetFlow(ctx, fx.alice, created.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get after delete: got %v, want ErrNotFound", err)
		}
		if err := fx.st.DeleteFlow(ctx, fx.alice, created.ID, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: got %v, want ErrNotFound", err)
		}
		if _, err := fx.st.UpdateFlow(ctx, fx.alice, created.ID, def, tester, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("update after delete: got %v, want ErrNotFound", err)
		}
		list, err := fx.st.ListFlows(ctx, fx.alice, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 0 {
			t.Errorf("list after delete: got %d flows, want 0", len(list))
		}
		var nf *store.NotFoundError
		if _, err := fx.st.GetFlow(ctx, fx.alice, created.ID); !errors.As(err, &nf) || nf.Resource != "flow" {
			t.Errorf("not-found error: got %v, want a NotFoundError for a flow", err)
		}
	})
}

func TestLiveFlowIDs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fx := newFixture(t, b)
		ctx := context.Background()
		live := mustCreateFlow(t, fx.st, fx.alice, "live")
		deleted := mustCreateFlow(t, fx.st, fx.alice, "deleted")
		other := mustCreateFlow(t, fx.st, fx.bob, "bob's")
		if err := fx.st.DeleteFlow(ctx, fx.alice, deleted.ID, nil); err != nil {
			t.Fatal(err)
		}
		got, err := fx.st.LiveFlowIDs(ctx, fx.alice, []uuid.UUID{live.ID, deleted.ID, other.ID, uuid.New()})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got[live.ID] {
			t.Errorf("got %v, want only %s", got, live.ID)
		}
	})
}

// TestListPagingSameMicrosecond pages through flows that share tm_create values, at several page sizes: every
// flow must come back exactly once, newest first.
func TestListPagingSameMicrosecond(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fx := newFixture(t, b)
		ctx := context.Background()
		// 1000 flows in one microsecond, then groups of 1 to 7 flows in the following microseconds.
		var want int
		for i := 0; i < 1000; i++ {
			mustCreateFlow(t, fx.st, fx.alice, "same")
			want++
		}
		for g := 1; g <= 7; g++ {
			fx.clock.Advance(time.Microsecond)
			for i := 0; i < g; i++ {
				mustCreateFlow(t, fx.st, fx.alice, fmt.Sprintf("group %d", g))
				want++
			}
		}
		mustCreateFlow(t, fx.st, fx.bob, "not alice's")
		for _, size := range []int{1, 2, 3, 10, 100, 1000} {
			t.Run(fmt.Sprint(size), func(t *testing.T) {
				seen := map[uuid.UUID]bool{}
				var last time.Time
				p := store.Page{Size: size}
				for pages := 0; ; pages++ {
					if pages > want {
						t.Fatal("paging does not end")
					}
					flows, err := fx.st.ListFlows(ctx, fx.alice, p)
					if err != nil {
						t.Fatal(err)
					}
					if len(flows) == 0 {
						break
					}
					for _, f := range flows {
						if seen[f.ID] {
							t.Fatalf("flow %s repeated", f.ID)
						}
						if !last.IsZero() && f.TMCreate.After(last) {
							t.Fatalf("not newest first: %v after %v", f.TMCreate, last)
						}
						seen[f.ID] = true
						last = f.TMCreate
					}
					p.Before = flows[len(flows)-1].TMCreate
				}
				if len(seen) != want {
					t.Errorf("got %d distinct flows, want %d", len(seen), want)
				}
			})
		}
	})
}

func TestAccessKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fx := newFixture(t, b)
		ctx := context.Background()
		k, err := fx.st.CreateAccessKey(ctx, store.NewAccessKey{CustomerID: fx.alice, Name: "ci", Detail: "d",
			TokenHash: "hash-1", TokenPrefix: "fbk_abcd", Lifetime: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if !k.TMExpire.Equal(t0.Add(24 * time.Hour)) {
			t.Errorf("tm_expire: got %v, want %v", k.TMExpire, t0.Add(24*time.Hour))
		}
		if got, err := fx.st.AccessKeyByHash(ctx, "hash-1"); err != nil || got.ID != k.ID {
			t.Fatalf("by hash: got %v, %v, want the key", got, err)
		}
		if _, err := fx.st.GetAccessKey(ctx, fx.bob, k.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another customer's key: got %v, want ErrNotFound", err)
		}
		fx.clock.Advance(time.Minute)
		u, err := fx.st.UpdateAccessKey(ctx, fx.alice, k.ID, "renamed", "")
		if err != nil || u.Name != "renamed" || u.TokenHash != "hash-1" || u.TMUpdate == nil {
			t.Fatalf("update: got %+v, %v", u, err)
		}
		_, err = fx.st.CreateAccessKey(ctx, store.NewAccessKey{CustomerID: fx.bob, TokenHash: "hash-1", Lifetime: time.Hour})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate hash: got %v, want ErrConflict", err)
		}

		fx.clock.Advance(24 * time.Hour)
		if _, err := fx.st.AccessKeyByHash(ctx, "hash-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired key: got %v, want ErrNotFound", err)
		}
		k2, err := fx.st.CreateAccessKey(ctx, store.NewAccessKey{CustomerID: fx.alice, TokenHash: "hash-2", Lifetime: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := fx.st.ListAccessKeys(ctx, fx.alice, store.Page{})
		if err != nil || len(keys) != 2 || keys[0].ID != k2.ID {
			t.Fatalf("list: got %d keys (%v), want 2, newest first", len(keys), err)
		}
		if err := fx.st.DeleteAccessKey(ctx, fx.alice, k2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.st.AccessKeyByHash(ctx, "hash-2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted key: got %v, want ErrNotFound", err)
		}
		if err := fx.st.DeleteAccessKey(ctx, fx.alice, k2.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: got %v, want ErrNotFound", err)
		}
	})
}

func TestUsers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		st := storetest.Open(t, b)
		ctx := context.Background()
		created, err := st.Bootstrap(ctx, "default", "admin", "hash-a")
		if err != nil || !created {
			t.Fatalf("first bootstrap: got %v, %v, want true", created, err)
		}
		created, err = st.Bootstrap(ctx, "default", "other", "hash-b")
		if err != nil || created {
			t.Fatalf("second bootstrap: got %v, %v, want false", created, err)
		}
		u, err := st.CreateUser(ctx, "acme", "alice", "hash-c")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateUser(ctx, "acme", "alice", "hash-d"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("taken username: got %v, want ErrConflict", err)
		}
		acme, err := st.CustomerByName(ctx, "acme")
		if err != nil || acme.ID != u.CustomerID {
			t.Fatalf("customer: got %v, %v", acme, err)
		}
		if err := st.SetPassword(ctx, "alice", "hash-e"); err != nil {
			t.Fatal(err)
		}
		if got, err := st.UserByUsername(ctx, "alice"); err != nil || got.PasswordHash != "hash-e" {
			t.Errorf("after passwd: got %v, %v", got, err)
		}
		if err := st.SetPassword(ctx, "nobody", "x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("passwd of unknown user: got %v, want ErrNotFound", err)
		}
		users, err := st.ListUsers(ctx)
		if err != nil || len(users) != 2 || users[0].Username != "admin" || users[1].CustomerName != "acme" {
			t.Errorf("list: got %+v, %v", users, err)
		}
	})
}

func TestConcurrentSettingsAndBootstrap(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		st := storetest.Open(t, b)
		ctx := context.Background()
		const n = 8
		values := make([]string, n)
		createdCount := 0
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := st.EnsureSetting(ctx, "jwt_secret", func() (string, error) { return fmt.Sprint("secret-", i), nil })
				if err != nil {
					t.Error(err)
				}
				values[i] = v
				created, err := st.Bootstrap(ctx, "default", "admin", "hash")
				if err != nil {
					t.Error(err)
				}
				if created {
					mu.Lock()
					createdCount++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for _, v := range values {
			if v != values[0] {
				t.Fatalf("settings differ: %v", values)
			}
		}
		if createdCount != 1 {
			t.Errorf("bootstraps that created a user: got %d, want 1", createdCount)
		}
	})
}

func TestRateLimitWindows(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fx := newFixture(t, b)
		ctx := context.Background()
		for want := 1; want <= 3; want++ {
			hits, reset, err := fx.st.Hit(ctx, "login:user:a", time.Minute)
			if err != nil || hits != want {
				t.Fatalf("hit %d: got %d, %v", want, hits, err)
			}
			if !reset.Equal(t0.Truncate(time.Minute).Add(time.Minute)) {
				t.Errorf("reset: got %v", reset)
			}
		}
		if hits, _, _ := fx.st.Hit(ctx, "login:user:b", time.Minute); hits != 1 {
			t.Errorf("other bucket: got %d hits, want 1", hits)
		}
		fx.clock.Advance(time.Minute)
		if hits, _, _ := fx.st.Hit(ctx, "login:user:a", time.Minute); hits != 1 {
			t.Errorf("next window: got %d hits, want 1", hits)
		}
		fx.clock.Advance(2 * time.Hour)
		if err := fx.st.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		cfg := storetest.Config(t, b)
		for i := 0; i < 2; i++ {
			st, err := store.Open(context.Background(), cfg)
			if err != nil {
				t.Fatalf("open %d: %v", i, err)
			}
			st.Close()
		}
	})
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		st := storetest.Open(t, b)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := st.GetFlow(ctx, uuid.New(), uuid.New()); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("canceled context: got %v, want ErrUnavailable", err)
		}
	})
}

// TestSQLiteTimestampsSort guards what ordering and paging on SQLite rely on: timestamps are stored as text that
// sorts chronologically.
func TestSQLiteTimestampsSort(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, storetest.SQLite)
	ctx := context.Background()
	times := []time.Time{t0, t0.Add(time.Microsecond), t0.Add(999 * time.Microsecond), t0.Add(time.Second), t0.Add(time.Hour)}
	for _, at := range []time.Time{times[3], times[0], times[4], times[2], times[1]} {
		fx.clock.Set(at)
		mustCreateFlow(t, fx.st, fx.alice, at.String())
	}
	flows, err := fx.st.ListFlows(ctx, fx.alice, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range flows {
		if want := times[len(times)-1-i]; !f.TMCreate.Equal(want) {
			t.Errorf("flow %d: tm_create %v, want %v", i, f.TMCreate, want)
		}
	}
}

// TestOpenBadURL: a database URL that cannot be used is refused without quoting its password.
func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"postgres://flowbin:s3cret@db:5432/flowbin?sslmode=%zz", "mysql://flowbin:s3cret@db/flowbin"} {
		_, err := store.Open(context.Background(), store.Config{URL: raw})
		if err == nil {
			t.Fatalf("%s: opened", raw)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error quotes the password: %v", raw, err)
		}
	}
}

// TestUserRevocationState: every change that revokes tokens bumps the generation, disabling and enabling round-trip,
// a key records its creator and fails while they are disabled or once removed, and this process's listeners hear
// of each change as it commits.
func TestUserRevocationState(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		st := storetest.Open(t, b)
		ctx := context.Background()
		u, err := st.CreateUser(ctx, "acme", "alice", "hash-a")
		if err != nil {
			t.Fatal(err)
		}
		heard := &userRecorder{}
		watchCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); st.WatchFlowChanges(watchCtx, heard) }()
		t.Cleanup(func() { cancel(); <-done })
		for deadline := time.Now().Add(5 * time.Second); !heard.isLive(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the listener did not start")
			}
		}

		state := func() store.UserTokenState {
			t.Helper()
			s, err := st.UserTokenState(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		if s := state(); s.Generation != 0 || s.Disabled {
			t.Fatalf("new user: %+v", s)
		}
		key, err := st.CreateAccessKey(ctx, store.NewAccessKey{CustomerID: u.CustomerID, UserID: u.ID, TokenHash: "hash-k",
			TokenPrefix: "fbk_abcd", Lifetime: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		legacy, err := st.CreateAccessKey(ctx, store.NewAccessKey{CustomerID: u.CustomerID, TokenHash: "hash-l",
			TokenPrefix: "fbk_efgh", Lifetime: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := st.AccessKeyByHash(ctx, "hash-k"); err != nil || got.UserID == nil || *got.UserID != u.ID {
			t.Fatalf("key owner: %+v, %v", got, err)
		}
		if got, _ := st.GetAccessKey(ctx, u.CustomerID, legacy.ID); got.UserID != nil {
			t.Errorf("a key without a creator got one: %v", got.UserID)
		}
		keyWorks := func(hash string) bool {
			_, err := st.AccessKeyByHash(ctx, hash)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			return err == nil
		}
		steps := []struct {
			what     string
			do       func() error
			disabled bool
		}{
			{"passwd", func() error { return st.SetPassword(ctx, "alice", "hash-b") }, false},
			{"logout", func() error { return st.LogoutUser(ctx, "alice") }, false},
			{"disable", func() error { return st.DisableUser(ctx, "alice") }, true},
			{"enable", func() error { return st.EnableUser(ctx, "alice") }, false},
		}
		for i, s := range steps {
			before := heard.count()
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.what, err)
			}
			if got := state(); got.Generation != 2*i+1 || got.Disabled != s.disabled {
				t.Errorf("after %s: %+v", s.what, got)
			}
			if keyWorks("hash-k") == s.disabled || !keyWorks("hash-l") {
				t.Errorf("after %s: the key works: %v", s.what, !s.disabled)
			}
			heard.waitFor(t, before+1, u.ID)
			if err := s.do(); err != nil { // again: found, and revokes again
				t.Fatalf("%s again: %v", s.what, err)
			}
			heard.waitFor(t, before+2, u.ID)
		}
		if got, _ := st.UserByUsername(ctx, "alice"); got.PasswordHash != "hash-b" || got.TMDisable != nil {
			t.Errorf("alice: %+v", got)
		}
		for _, f := range []func(context.Context, string) error{st.LogoutUser, st.DisableUser, st.EnableUser, st.DeleteUser} {
			if err := f(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("unknown user: got %v, want ErrNotFound", err)
			}
		}
		before := heard.count()
		if err := st.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		heard.waitFor(t, before+1, u.ID)
		if _, err := st.UserTokenState(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("removed user: got %v, want ErrNotFound", err)
		}
		if keyWorks("hash-k") || !keyWorks("hash-l") {
			t.Errorf("after removal: the removed user's key must fail, the key without a creator work")
		}
		if _, err := st.GetAccessKey(ctx, u.CustomerID, key.ID); err != nil {
			t.Errorf("the removed user's key is still listed (until deleted): %v", err)
		}
	})
}

// userRecorder is a store.UserChangeListener that counts the user changes it hears.
type userRecorder struct {
	mu    sync.Mutex
	live  bool
	users []uuid.UUID
}

func (r *userRecorder) FlowChanged(uuid.UUID) {}
func (r *userRecorder) ChangesReset(live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live = live
}

func (r *userRecorder) isLive() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live
}
func (r *userRecorder) UserChanged(id uuid.UUID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users = append(r.users, id)
}

func (r *userRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.users)
}

// waitFor waits (at most 5s: on PostgreSQL the trigger's announcement comes too) until n changes were heard, the
// last of id.
func (r *userRecorder) waitFor(t *testing.T, n int, id uuid.UUID) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		ok := len(r.users) >= n && r.users[len(r.users)-1] == id
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("heard %d user changes, want %d", r.count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}
