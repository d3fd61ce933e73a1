package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flowbin/flowbin/internal/metrics"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

// scrape reads the metrics as Prometheus would, and parses them.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	return families
}

// value is the value of the family's series with exactly these labels (name, value, …): a counter's or gauge's
// value, a histogram's count; -1 when there is no such series.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := families[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		if len(m.Label) != len(labels)/2 {
			continue
		}
		for i, l := range m.Label {
			if l.GetName() != labels[2*i] || l.GetValue() != labels[2*i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetrics scrapes the metrics after a scripted workload: every family has the counts the workload implies.
func TestMetrics(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		m := metrics.New()
		// A cached answer of the workload's one-action flows takes about 600 bytes, the IVR's about 920 (VoIPbin's
		// next_id and tm_execute on every action): each cache shard holds one, never two.
		const perShard = 1000
		e := newEnv(t, b, func(c *server.Config) {
			c.Metrics = m
			c.LoginAttemptsPerUser = 3
			c.FlowCacheBytes = perShard * 32
		})
		if err := m.WatchDBPool(e.st.PoolStats); err != nil {
			t.Fatal(err)
		}

		// Logins: alice (who logged in once already) fails twice, then meets her per-user limit of 3.
		for range 2 {
			e.do("POST", "/auth/login", map[string]string{"username": "alice", "password": "wrong"}).
				wantError(http.StatusUnauthorized, "INVALID_CREDENTIALS")
		}
		e.do("POST", "/auth/login", map[string]string{"username": "alice", "password": "alice-password"}).
			wantError(http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED")

		// Flows: one read three times (a miss, then two hits); then 40 more, each read once, in shards that hold
		// one answer each, so that every answer put in a shard already holding one evicts it.
		first := e.createFlow(e.alice, `{"name":"first","actions":[{"type":"answer"}]}`)
		for range 3 {
			res := e.as(e.alice, "GET", "/v1.0/flows/"+first.ID, nil).wantStatus(http.StatusOK)
			if size := len(res.body) + server.EntryOverhead; size > perShard || 2*size <= perShard {
				t.Fatalf("a cached answer takes %d bytes: the test's shards must hold exactly one", size)
			}
		}
		occupied := map[int]bool{server.CacheShard(uuid.MustParse(first.ID)): true}
		evictions := 0
		for i := range 40 {
			f := e.createFlow(e.alice, fmt.Sprintf(`{"name":"flow-%02d","actions":[{"type":"answer"}]}`, i))
			e.as(e.alice, "GET", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusOK)
			shard := server.CacheShard(uuid.MustParse(f.ID))
			if occupied[shard] {
				evictions++
			}
			occupied[shard] = true
		}

		// Activeflows: one runs to its end, one is stopped, one deleted.
		ivr := e.createFlow(e.alice, `{"name":"ivr","actions":[{"type":"answer"},{"type":"variable_set","option":{"key":"k","value":"v"}},{"type":"talk","option":{"text":"hi"}}]}`)
		// Their starts read the flow through the cache: the first a miss (which evicts an answer from a shard that
		// holds one), the two others hits.
		if occupied[server.CacheShard(uuid.MustParse(ivr.ID))] {
			evictions++
		}
		a := e.startActiveflow(e.alice, `{"flow_id":"`+ivr.ID+`"}`)
		a = e.drive(e.alice, a, "") // the whole history, read back
		steps := map[string]int{}
		for _, x := range a.ExecutedActions {
			steps[x.Type]++
		}
		stopped := e.startActiveflow(e.alice, `{"flow_id":"`+ivr.ID+`"}`)
		e.as(e.alice, "POST", "/v1.0/activeflows/"+stopped.ID+"/stop", nil).wantStatus(http.StatusOK)
		e.as(e.alice, "POST", "/v1.0/activeflows/"+stopped.ID+"/stop", nil).wantStatus(http.StatusOK) // ended already
		deleted := e.startActiveflow(e.alice, `{"flow_id":"`+ivr.ID+`"}`)
		e.as(e.alice, "DELETE", "/v1.0/activeflows/"+deleted.ID, nil).wantStatus(http.StatusNoContent)
		steps["answer"] += 2 // the first action of the stopped and the deleted one

		got := scrape(t, m)
		pool := map[storetest.Backend]float64{storetest.SQLite: 8, storetest.Postgres: 16}[b]
		for _, c := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"flowbin_login_failures_total", nil, 2},
			{"flowbin_rate_limited_total", []string{"limit", "login_user"}, 1},
			{"flowbin_http_request_duration_seconds", []string{"method", "POST", "route", "/auth/login", "status", "200"}, 2}, // alice and bob
			{"flowbin_http_request_duration_seconds", []string{"method", "POST", "route", "/auth/login", "status", "401"}, 2},
			{"flowbin_http_request_duration_seconds", []string{"method", "POST", "route", "/auth/login", "status", "429"}, 1},
			{"flowbin_http_request_duration_seconds", []string{"method", "POST", "route", "/v1.0/flows", "status", "200"}, 42},
			{"flowbin_http_request_duration_seconds", []string{"method", "GET", "route", "/v1.0/flows/{id}", "status", "200"}, 43},
			{"flowbin_http_request_duration_seconds", []string{"method", "DELETE", "route", "/v1.0/activeflows/{id}", "status", "204"}, 1},
			{"flowbin_flow_cache_requests_total", []string{"result", "hit"}, 4},
			{"flowbin_flow_cache_requests_total", []string{"result", "miss"}, 42},
			{"flowbin_flow_cache_evictions_total", nil, float64(evictions)},
			{"flowbin_activeflows_started_total", nil, 3},
			{"flowbin_activeflows_ended_total", []string{"reason", a.EndReason}, 1},
			{"flowbin_activeflows_ended_total", []string{"reason", "stopped"}, 2},
			{"flowbin_activeflow_steps_total", []string{"type", "answer"}, float64(steps["answer"])},
			{"flowbin_activeflow_steps_total", []string{"type", "variable_set"}, float64(steps["variable_set"])},
			{"flowbin_activeflow_steps_total", []string{"type", "talk"}, float64(steps["talk"])},
			{"flowbin_db_connections_max", nil, pool},
		} {
			if v := value(got, c.name, c.labels...); v != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
			}
		}
		if a.EndReason != "finished" || steps["answer"] != 3 || steps["variable_set"] != 1 || steps["talk"] != 1 {
			t.Errorf("the run-through activeflow: end %q, steps %v", a.EndReason, steps)
		}
		if evictions < 9 { // 41 answers in 32 shards
			t.Errorf("only %d evictions: the workload does not exercise them", evictions)
		}
		if v := value(got, "flowbin_db_connections_open"); v < 1 || v > pool {
			t.Errorf("flowbin_db_connections_open = %v, want 1 to %v", v, pool)
		}
		for _, name := range []string{"go_goroutines", "flowbin_db_waits_total", "flowbin_db_wait_seconds_total"} {
			if got[name] == nil {
				t.Errorf("no %s", name)
			}
		}
	})
}

// TestMetricsLabelsAreClosed: what a client chooses without logging in (the method, the path) cannot add series.
// After one request with an invented method and one to an invented path, 60 more invented methods and 120 more
// invented paths (each also with an invented method) leave the number of series as it was.
func TestMetricsLabelsAreClosed(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	e := newEnv(t, storetest.SQLite, func(c *server.Config) { c.Metrics = m })
	send := func(method, path string) {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	series := func() int {
		f := scrape(t, m)["flowbin_http_request_duration_seconds"]
		if f == nil {
			return 0
		}
		return len(f.Metric)
	}
	send("X0", "/v1.0/flows")
	send("GET", "/made-up/0")
	send("X0", "/made-up/0")
	before := series()
	for i := range 60 {
		send(fmt.Sprintf("X%d", i+1), "/v1.0/flows")
	}
	for i := range 120 {
		send("GET", fmt.Sprintf("/made-up/%d", i+1))
		send(fmt.Sprintf("Y%d", i), fmt.Sprintf("/v1.0/made-up-%d", i))
	}
	if after := series(); after != before {
		t.Errorf("invented methods and paths added %d series", after-before)
	}
	got := scrape(t, m)
	if v := value(got, "flowbin_http_request_duration_seconds", "method", "OTHER", "route", "(unmatched)", "status", "405"); v != 61 {
		t.Errorf("OTHER to /v1.0/flows: %v requests, want 61", v)
	}
}
