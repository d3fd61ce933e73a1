// Package metrics holds flowbin's Prometheus metrics: one registry per process, served on a listener of its own
// (FLOWBIN_METRICS_ADDR). A part of flowbin that measures something adds its family here, as a field of Metrics
// created in New, so that every name, label and help text is in one place.
package metrics

import (
	"database/sql"
	"math"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the process's metric families. Every field is usable on a Metrics from New; a component given no
// Metrics makes its own with New, unserved, so that it never checks for nil.
type Metrics struct {
	registry *prometheus.Registry

	// HTTPRequests: every answered request, by method, spec route ("/v1.0/flows/{id}") and status; its _count is
	// the number of requests.
	HTTPRequests *prometheus.HistogramVec
	// FlowCacheRequests: GET /v1.0/flows/{id} by result: hit (answered from the cache), miss (read from the
	// database, then cached when it may be), bypass (the cache is off or not in step with the database).
	FlowCacheRequests *prometheus.CounterVec
	// FlowCacheEvictions: answers dropped from the cache for room or age (not for a change of the flow).
	FlowCacheEvictions prometheus.Counter
	// ActiveflowsStarted and ActiveflowsEnded (by end reason: stop, stopped, executed_action_limit, …).
	ActiveflowsStarted prometheus.Counter
	ActiveflowsEnded   *prometheus.CounterVec
	// ActiveflowSteps: actions executed by activeflows, by action type (control actions and those handed to the
	// runner).
	ActiveflowSteps *prometheus.CounterVec
	// LoginFailures: logins refused for a wrong username or password.
	LoginFailures prometheus.Counter
	// RateLimited: requests refused by a rate limit, by limit (login_address, login_user).
	RateLimited *prometheus.CounterVec
	// OutboundDeliveries: attempts to deliver the outbox, by message type (activeflow_created, …, webhook_send)
	// and outcome: delivered (a 2xx answer) or failed (anything else; the message is retried or given up on).
	OutboundDeliveries *prometheus.CounterVec
}

// New makes the metric families, registered with a registry of their own along with Go's runtime and the
// process's metrics.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{r}
	return &Metrics{
		registry: r,
		HTTPRequests: f.histogram(prometheus.HistogramOpts{
			Name:    "flowbin_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests of the API, by method, route and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, "method", "route", "status"),
		FlowCacheRequests: f.counter(prometheus.CounterOpts{
			Name: "flowbin_flow_cache_requests_total",
			Help: "Reads of one flow (GET /v1.0/flows/{id}) by cache result: hit, miss or bypass.",
		}, "result"),
		FlowCacheEvictions: f.counter(prometheus.CounterOpts{
			Name: "flowbin_flow_cache_evictions_total",
			Help: "Cached flow answers dropped for room or age.",
		}).WithLabelValues(),
		ActiveflowsStarted: f.counter(prometheus.CounterOpts{
			Name: "flowbin_activeflows_started_total",
			Help: "Activeflows started.",
		}).WithLabelValues(),
		ActiveflowsEnded: f.counter(prometheus.CounterOpts{
			Name: "flowbin_activeflows_ended_total",
			Help: "Activeflows ended, by end reason.",
		}, "reason"),
		ActiveflowSteps: f.counter(prometheus.CounterOpts{
			Name: "flowbin_activeflow_steps_total",
			Help: "Actions executed by activeflows, by action type.",
		}, "type"),
		LoginFailures: f.counter(prometheus.CounterOpts{
			Name: "flowbin_login_failures_total",
			Help: "Logins refused for a wrong username or password.",
		}).WithLabelValues(),
		RateLimited: f.counter(prometheus.CounterOpts{
			Name: "flowbin_rate_limited_total",
			Help: "Requests refused by a rate limit, by limit.",
		}, "limit"),
		OutboundDeliveries: f.counter(prometheus.CounterOpts{
			Name: "flowbin_outbox_deliveries_total",
			Help: "Attempts to deliver events and webhook_send requests, by type and outcome (delivered or failed).",
		}, "type", "outcome"),
	}
}

type factory struct{ r *prometheus.Registry }

func (f factory) counter(opts prometheus.CounterOpts, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(opts, labels)
	f.r.MustRegister(c)
	return c
}

func (f factory) histogram(opts prometheus.HistogramOpts, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(opts, labels)
	f.r.MustRegister(h)
	return h
}

// Register adds collectors of other parts (a family that does not fit a field, such as one read on scrape).
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.registry.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// WatchDBPool exports the database pool's statistics, read at every scrape, as flowbin_db_* families.
func (m *Metrics) WatchDBPool(stats func() sql.DBStats) error {
	gauge := func(name, help string, v func(sql.DBStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v(stats()) })
	}
	counter := func(name, help string, v func(sql.DBStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(stats()) })
	}
	return m.Register(
		gauge("flowbin_db_connections_max", "Most connections the pool opens.",
			func(s sql.DBStats) float64 { return float64(s.MaxOpenConnections) }),
		gauge("flowbin_db_connections_open", "Connections open, in use or idle.",
			func(s sql.DBStats) float64 { return float64(s.OpenConnections) }),
		gauge("flowbin_db_connections_in_use", "Connections in use.",
			func(s sql.DBStats) float64 { return float64(s.InUse) }),
		gauge("flowbin_db_connections_idle", "Idle connections.",
			func(s sql.DBStats) float64 { return float64(s.Idle) }),
		counter("flowbin_db_waits_total", "Times a query waited for a free connection.",
			func(s sql.DBStats) float64 { return float64(s.WaitCount) }),
		counter("flowbin_db_wait_seconds_total", "Time spent waiting for a free connection.",
			func(s sql.DBStats) float64 { return s.WaitDuration.Seconds() }),
	)
}

// WatchOutbox exports the number of messages waiting for delivery, read at every scrape.
func (m *Metrics) WatchOutbox(depth func() (int64, error)) error {
	return m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowbin_outbox_pending",
		Help: "Events and webhook_send requests waiting for delivery (NaN when the database cannot say)."},
		func() float64 {
			n, err := depth()
			if err != nil {
				return math.NaN()
			}
			return float64(n)
		}))
}

// WatchOutboxDropped exports how many messages this process recorded as dropped because their customer had too
// many waiting (store.Config.OutboxMaxPending).
func (m *Metrics) WatchOutboxDropped(dropped func() int64) error {
	return m.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "flowbin_outbox_dropped_total",
		Help: "Events and webhook_send requests recorded as dropped, never sent: their customer had FLOWBIN_EVENTS_MAX_PENDING waiting."},
		func() float64 { return float64(dropped()) }))
}

// ObserveDelivery counts one attempt to deliver a message.
func (m *Metrics) ObserveDelivery(messageType string, status int, err error) {
	outcome := "delivered"
	switch {
	case err == nil && status == http.StatusGone:
		outcome = "gone"
	case err != nil || status < 200 || status > 299:
		outcome = "failed"
	}
	m.OutboundDeliveries.WithLabelValues(messageType, outcome).Inc()
}

// Registerer is where other packages' metrics (the SIP runner's) join flowbin's.
func (m *Metrics) Registerer() prometheus.Registerer { return m.registry }

// Handler serves the metrics in Prometheus's text format (or OpenMetrics, when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{EnableOpenMetrics: true})
}
