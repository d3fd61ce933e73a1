package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbin/flowbin/internal/apitest"
	"github.com/flowbin/flowbin/internal/faultproxy"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestDatabaseOutage drives writes across a PostgreSQL outage (connections cut, then a network black hole) made
// by a proxy between flowbin and the shared server. During it, requests answer 503 within their deadline and
// /readyz is not ready; afterwards flowbin recovers without a restart. An audit of the database then finds every
// write that was answered 2xx, and no write half-applied.
func TestDatabaseOutage(t *testing.T) {
	direct := storetest.NewPostgresDatabase(t)
	migrated, err := store.Open(context.Background(), store.Config{URL: direct, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	migrated.Close()
	proxy := faultproxy.Start(t, "127.0.0.1:5432")
	u, _ := url.Parse(direct)
	u.Host = proxy.Addr()
	const deadline = 2 * time.Second
	e := newEnvOn(t, storetest.Postgres, store.Config{URL: u.String()}, storetest.NewClock(time.Now().UTC()),
		func(c *server.Config) { c.RequestTimeout = deadline })

	// Writers: each creates flows and updates its own flow, all along.
	type write struct {
		name   string
		status int
	}
	var (
		mu      sync.Mutex
		writes  []write
		stop    atomic.Bool
		wg      sync.WaitGroup
		bad     atomic.Int32
		slowest atomic.Int64
	)
	// Each writer's own flow is made before any writer starts, one at a time: on a loaded machine six creates at
	// once may outlast the short deadline, and a 503 here would say nothing of the outage.
	owns := make([]apiFlow, 6)
	for w := range owns {
		owns[w] = e.createFlow(e.alice, `{"name":"writer-`+fmt.Sprint(w)+`"}`)
	}
	for w := range owns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := e.withT(t)
			own := owns[w]
			for n := 0; !stop.Load(); n++ {
				name := fmt.Sprintf("w%d-%d", w, n)
				start := time.Now()
				res := e.as(e.alice, "POST", "/v1.0/flows", `{"name":"`+name+`","actions":[{"type":"answer"},{"type":"hangup"}]}`)
				name2 := "u" + name
				upd := e.as(e.alice, "PUT", "/v1.0/flows/"+own.ID, `{"name":"`+name2+`","detail":"`+name2+`","actions":[{"type":"talk","option":{"text":"`+name2+`"}}]}`)
				slowest.Store(max(slowest.Load(), int64(time.Since(start))))
				for _, st := range []int{res.status, upd.status} {
					if st != http.StatusOK && st != http.StatusServiceUnavailable {
						bad.Add(1)
						t.Errorf("%s: status %d: %s", name, st, res.body)
					}
				}
				mu.Lock()
				writes = append(writes, write{name, res.status})
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	// writesFrom waits until n of the writes answered after mark (an index into writes) were answered with status,
	// so that each phase of the outage is known to have been written through, however slow the machine; it
	// answers the new mark.
	writesFrom := func(mark, n, status int, phase string) int {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			got, end := 0, len(writes)
			for _, w := range writes[mark:] {
				if w.status == status {
					got++
				}
			}
			mu.Unlock()
			if got >= n {
				return end
			}
			if time.Now().After(deadline) || bad.Load() > 0 {
				t.Fatalf("%s: %d writes answered %d within 30s, want %d", phase, got, status, n)
			}
		}
	}
	mark := writesFrom(0, 6, http.StatusOK, "before the outage")

	// The database is down: connections are cut.
	proxy.Cut()
	mark = writesFrom(mark, 1, http.StatusServiceUnavailable, "connections cut")
	e.do("GET", "/readyz", nil).wantError(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	e.do("GET", "/healthz", nil).wantStatus(http.StatusOK)
	e.as(e.alice, "GET", "/v1.0/flows", nil).wantError(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	mark = writesFrom(mark, 6, http.StatusServiceUnavailable, "connections cut")

	// The network is a black hole: requests end at their deadline, with 503.
	proxy.Hang()
	start := time.Now()
	e.as(e.alice, "GET", "/v1.0/flows", nil).wantError(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	if took := time.Since(start); took > deadline+3*time.Second {
		t.Errorf("a request hung for %v; the deadline is %v", took, deadline)
	}
	// Writers are in the middle of requests (each waits up to the deadline) when the network comes back.
	mark = writesFrom(mark, 1, http.StatusServiceUnavailable, "black hole")

	// The database is back: flowbin recovers on its own.
	proxy.Restore()
	apitest.Eventually(t, 10*time.Second, "flowbin to recover after the database came back", func() bool {
		return e.do("GET", "/readyz", nil).status == http.StatusOK
	})
	writesFrom(mark, 6, http.StatusOK, "after the outage")
	stop.Store(true)
	wg.Wait()
	e.as(e.alice, "POST", "/v1.0/flows", `{"name":"after"}`).wantStatus(http.StatusOK)
	if time.Duration(slowest.Load()) > 2*(deadline+3*time.Second) {
		t.Errorf("a writer waited %v for two requests", time.Duration(slowest.Load()))
	}

	// Audit, directly in the database.
	audit, err := store.Open(context.Background(), store.Config{URL: direct})
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	ctx := context.Background()
	alice, err := audit.CustomerByName(ctx, "alice-co")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	var flows []store.Flow
	for p := (store.Page{}); ; {
		page, err := audit.ListFlows(ctx, alice.ID, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		flows = append(flows, page...)
		p.Before = page[len(page)-1].TMCreate
	}
	for _, f := range flows {
		stored[f.Name]++
		// Not half-applied: the flow's current content is exactly its latest revision.
		revs, err := audit.ListFlowRevisions(ctx, alice.ID, f.ID, 1, 0)
		if err != nil || len(revs) != 1 {
			t.Fatalf("flow %s (%s): revisions %v %v", f.ID, f.Name, revs, err)
		}
		r := revs[0]
		if r.Revision != f.Revision || r.Name != f.Name || r.Detail != f.Detail || len(r.Actions) != len(f.Actions) {
			t.Errorf("flow %s is not its latest revision: %+v vs %+v", f.ID, f, r)
		}
		if f.Detail != "" && (f.Detail != f.Name || len(f.Actions) != 1 || !strings.Contains(string(f.Actions[0].Option), f.Name)) {
			t.Errorf("a mixed update: %+v", f)
		}
	}
	var ok, failed int
	for _, w := range writes {
		switch {
		case w.status == http.StatusOK:
			ok++
			if stored[w.name] != 1 {
				t.Errorf("write %s was answered 200 but is stored %d times", w.name, stored[w.name])
			}
		default:
			failed++
			if stored[w.name] > 1 {
				t.Errorf("write %s is stored %d times", w.name, stored[w.name])
			}
		}
	}
	if ok == 0 || failed == 0 {
		t.Errorf("%d writes succeeded and %d failed: the outage must fall in the middle of the writes", ok, failed)
	}
	t.Logf("%d writes answered 200, %d answered 503", ok, failed)
}

// TestConcurrentWriters: 50 writers on one flow, and 50 on 50 flows: every flow ends as exactly one of the
// versions submitted to it, never a mix, and every revision in its history is whole.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		concurrentWriters(t, newEnv(t, b))
	})
}

func concurrentWriters(t *testing.T, e *env) {
	{
		shared := e.createFlow(e.alice, `{"name":"shared"}`)
		const n = 50
		version := func(i int) string {
			v := fmt.Sprintf("v%02d", i)
			return fmt.Sprintf(`{"name":%q,"detail":%q,"actions":[{"type":"talk","option":{"text":%q}},{"type":"hangup","option":{"reason":%q}}]}`, v, v, v, v)
		}
		own := make([]apiFlow, n)
		for i := range own {
			own[i] = e.createFlow(e.alice, `{"name":"own"}`)
		}
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				e.withT(t).as(e.alice, "PUT", "/v1.0/flows/"+shared.ID, version(i)).wantStatus(http.StatusOK)
			}()
			go func() {
				defer wg.Done()
				e.withT(t).as(e.alice, "PUT", "/v1.0/flows/"+own[i].ID, version(i)).wantStatus(http.StatusOK)
			}()
		}
		wg.Wait()
		whole := func(name, detail string, actions []apiAction) bool {
			return detail == name && len(actions) == 2 && strings.Contains(string(actions[0].Option), name) && strings.Contains(string(actions[1].Option), name)
		}
		var got apiFlow
		e.as(e.alice, "GET", "/v1.0/flows/"+shared.ID, nil).wantStatus(http.StatusOK).decode(&got)
		if !whole(got.Name, got.Detail, got.Actions) {
			t.Errorf("the shared flow is a mix: %+v", got)
		}
		hist := e.revisions(e.alice, shared.ID, "")
		if len(hist.Result) != n+1 || hist.Result[0].Name != got.Name {
			t.Errorf("history: %d revisions (want %d), newest %q (current %q)", len(hist.Result), n+1, hist.Result[0].Name, got.Name)
		}
		for _, r := range hist.Result[:n] {
			if !whole(r.Name, r.Detail, r.Actions) {
				t.Errorf("revision %d is a mix: %+v", r.Revision, r)
			}
		}
		for i := range own {
			e.as(e.alice, "GET", "/v1.0/flows/"+own[i].ID, nil).wantStatus(http.StatusOK).decode(&got)
			if v := fmt.Sprintf("v%02d", i); got.Name != v || !whole(got.Name, got.Detail, got.Actions) {
				t.Errorf("flow %d: %+v, want version %s", i, got, v)
			}
		}
	}
}
