package server_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/flowbin/flowbin/internal/apitest"
	"github.com/flowbin/flowbin/internal/faultproxy"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// instanceOn is another server on the same database, through a store of its own configuration (such as a URL
// through a fault proxy), with its change listener running.
func (e *env) instanceOn(t *testing.T, cfg server.Config, stCfg store.Config) (*env, *server.Server) {
	t.Helper()
	stCfg.Now = e.clock.Now
	st, err := store.Open(context.Background(), stCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if cfg.LoginAttemptsPerUser == 0 {
		cfg.LoginAttemptsPerUser, cfg.LoginAttemptsPerAddress = 1000, 1000
	}
	logs := &apitest.LogBuffer{}
	leaks.log(logs)
	s, err := server.New(cfg, st, e.tokens, testPasswords(t), slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	watch(t, s)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	other := *e
	other.srv, other.st = srv, st
	return &other, s
}

// name reads the flow's name through e (its cache, when it holds the flow).
func (e *env) name(id string) string {
	e.t.Helper()
	var f apiFlow
	e.as(e.alice, "GET", "/v1.0/flows/"+id, nil).wantStatus(http.StatusOK).decode(&f)
	return f.Name
}

// eventually polls e until the flow has the name, for at most 5s: a change made elsewhere reaches another
// instance's cache when PostgreSQL announces it, a few milliseconds after it commits.
func (e *env) eventually(id, want string) time.Duration {
	e.t.Helper()
	start := time.Now()
	for {
		got := e.name(id)
		if got == want {
			return time.Since(start)
		}
		if time.Since(start) > 5*time.Second {
			e.t.Fatalf("flow %s: name still %q after 5s, want %q", id, got, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestFlowCacheReadsOwnWrites: on one instance, an answered write is seen by the very next read, on both stores.
func TestFlowCacheReadsOwnWrites(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"v0"}`)
		for i := range 50 {
			if got := e.name(f.ID); got != "v"+itoa(i) {
				t.Fatalf("read %d: got %q", i, got)
			}
			e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, `{"name":"v`+itoa(i+1)+`"}`).wantStatus(http.StatusOK)
		}
		// Restoring is a change too.
		e.name(f.ID)
		e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/revisions/1/restore", nil).wantStatus(http.StatusOK)
		if got := e.name(f.ID); got != "v0" {
			t.Fatalf("after restore: %q", got)
		}
		// So is deleting: the cached answer goes with the flow.
		e.as(e.alice, "DELETE", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusNoContent)
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID, nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
		// A cached flow is still only its owner's.
		g := e.createFlow(e.alice, `{"name":"mine"}`)
		e.name(g.ID)
		e.as(e.bob, "GET", "/v1.0/flows/"+g.ID, nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
		// If-None-Match is answered from the cache too.
		tag := e.as(e.alice, "GET", "/v1.0/flows/"+g.ID, nil).wantStatus(http.StatusOK).header.Get("ETag")
		e.as(e.alice, "GET", "/v1.0/flows/"+g.ID, nil, "If-None-Match", tag).wantStatus(http.StatusNotModified)
	})
}

// TestFlowCacheTwoInstances: two instances on one PostgreSQL database, each with its cache. A change made on one,
// or by anyone with SQL, reaches the other's cache as it commits.
func TestFlowCacheTwoInstances(t *testing.T) {
	t.Parallel()
	a := newEnv(t, storetest.Postgres)
	b, _ := a.instanceOn(t, server.Config{}, store.Config{URL: a.storeURL(t)})
	f := a.createFlow(a.alice, `{"name":"v0"}`)
	var slowest time.Duration
	for i := range 20 {
		want := "v" + itoa(i)
		b.name(f.ID) // cached on b
		b.name(f.ID)
		a.name(f.ID) // and on a
		a.as(a.alice, "PUT", "/v1.0/flows/"+f.ID, `{"name":"v`+itoa(i+1)+`"}`).wantStatus(http.StatusOK)
		if got := a.name(f.ID); got != "v"+itoa(i+1) {
			t.Fatalf("the writer read %q after writing v%d (had %s)", got, i+1, want)
		}
		slowest = max(slowest, b.eventually(f.ID, "v"+itoa(i+1)))
	}
	t.Logf("a change reached the other instance's cache within %v", slowest)

	// A change made with SQL, by no flowbin instance at all.
	db, err := sql.Open("pgx", a.storeURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a.name(f.ID)
	b.name(f.ID)
	if _, err := db.Exec(`UPDATE flows SET name = 'by sql' WHERE id = $1`, f.ID); err != nil {
		t.Fatal(err)
	}
	a.eventually(f.ID, "by sql")
	b.eventually(f.ID, "by sql")

	// A delete on one instance.
	b.as(b.alice, "DELETE", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusNoContent)
	a.eventuallyGone(f.ID)

	// TRUNCATE, which no row trigger sees: every cache starts over.
	g := a.createFlow(a.alice, `{"name":"kept until truncated"}`)
	a.name(g.ID)
	b.name(g.ID)
	if _, err := db.Exec(`TRUNCATE flows CASCADE`); err != nil {
		t.Fatal(err)
	}
	a.eventuallyGone(g.ID)
	b.eventuallyGone(g.ID)
}

// eventuallyGone polls e until the flow is not found, for at most 5s.
func (e *env) eventuallyGone(id string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.as(e.alice, "GET", "/v1.0/flows/"+id, nil).status != http.StatusNotFound {
		if time.Now().After(deadline) {
			e.t.Fatalf("flow %s is still served 5s after it was deleted", id)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestFlowCacheListenerLost: an instance whose change listener loses its connection stops using its cache at once
// (connections cut) or within a heartbeat (a network that drops packets silently), and starts again empty, so that
// changes it could not hear of are never served from it.
func TestFlowCacheListenerLost(t *testing.T) {
	a := newEnv(t, storetest.Postgres)
	proxy := faultproxy.Start(t, "127.0.0.1:5432")
	u, _ := url.Parse(a.storeURL(t))
	u.Host = proxy.Addr()
	const heartbeat = 200 * time.Millisecond
	b, bs := a.instanceOn(t, server.Config{RequestTimeout: time.Second},
		store.Config{URL: u.String(), ListenHeartbeat: heartbeat})
	f := a.createFlow(a.alice, `{"name":"v0"}`)

	for i, fault := range []struct {
		name  string
		start func()
		// within is how long the listener may take to notice.
		within time.Duration
	}{
		{"connections cut", proxy.Cut, time.Second},
		{"packets dropped", proxy.Freeze, 3*heartbeat + time.Second},
	} {
		t.Run(fault.name, func(t *testing.T) {
			b := b.withT(t)
			before, after := "v"+itoa(i), "v"+itoa(i+1)
			b.eventually(f.ID, before)
			b.name(f.ID) // cached
			fault.start()
			start := time.Now()
			for bs.FlowCacheLive() {
				if time.Since(start) > fault.within {
					t.Fatalf("the cache is still in use %v after the listener lost its database", fault.within)
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("the cache was bypassed %v after the fault", time.Since(start))
			// Meanwhile another instance changes the flow: b cannot hear of it.
			a.as(a.alice, "PUT", "/v1.0/flows/"+f.ID, `{"name":"`+after+`"}`).wantStatus(http.StatusOK)
			// b reads the database, which it cannot reach: 503, never the cached answer.
			b.as(b.alice, "GET", "/v1.0/flows/"+f.ID, nil).wantError(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
			proxy.Restore()
			// From the first answer on, b reads the change: its cache was bypassed, then starts empty.
			deadline := time.Now().Add(10 * time.Second)
			for {
				res := b.as(b.alice, "GET", "/v1.0/flows/"+f.ID, nil)
				if res.status == http.StatusOK {
					var got apiFlow
					res.decode(&got)
					if got.Name != after {
						t.Fatalf("after the outage, b answered %q: a change made while its listener was down was missed", got.Name)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("b did not recover within 10s: %d %s", res.status, res.body)
				}
				time.Sleep(20 * time.Millisecond)
			}
			for !bs.FlowCacheLive() {
				if time.Now().After(deadline) {
					t.Fatal("the cache did not come back within 10s")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
