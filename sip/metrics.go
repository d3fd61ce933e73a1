package sip

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the runner's Prometheus series. Every label has a closed set of values.
type Metrics struct {
	Active   prometheus.Gauge
	Calls    *prometheus.CounterVec // direction, result
	Rejected *prometheus.CounterVec // code: the SIP status of the refusal; reason: why (rejectReasons)
	// DialsRefused counts outbound calls (POST /v1.0/calls, Dial) refused, by reason (instance_full,
	// customer_full, shutting_down).
	DialsRefused *prometheus.CounterVec
	Dropped      prometheus.Counter     // RTP packets from an address that is not the call's peer
	Actions      *prometheus.CounterVec // type (the runner's action types, or "other"), outcome
	// InProgress is the number of calls performing each action now (type: the runner's action types only).
	InProgress *prometheus.GaugeVec
	// Gap is the time between two audio packets of a call as the runner reads them: a runner that falls behind
	// reads them late and in bursts, which this shows before callers hear it.
	Gap prometheus.Histogram
	// Reaped counts the calls of lost runners (expired leases) that this runner ended.
	Reaped prometheus.Counter
}

// rejectCodes are the statuses a refused INVITE may get; any other is counted as "other".
var rejectCodes = map[int]bool{400: true, 404: true, 480: true, 486: true, 488: true, 500: true, 503: true}

// The reasons of refusals, a closed set (the metrics' reason label).
const (
	reasonBadRequest    = "bad_request"    // 400: a header missing, SDP that cannot be read
	reasonNoCodec       = "no_codec"       // 488: no offer, no audio, no shared codec
	reasonUnknownNumber = "unknown_number" // 404
	reasonNoFlow        = "no_flow"        // 480
	reasonCustomerFull  = "customer_full"  // 486 (ErrCustomerFull)
	reasonInstanceFull  = "instance_full"  // 503 (ErrInstanceFull)
	reasonShuttingDown  = "shutting_down"  // 503 (ErrShuttingDown)
	reasonServerError   = "server_error"   // 500
)

// refusalReason is the metrics' reason of a runner error; "" when it is none of the refusals.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, ErrInstanceFull):
		return reasonInstanceFull
	case errors.Is(err, ErrCustomerFull):
		return reasonCustomerFull
	case errors.Is(err, ErrShuttingDown):
		return reasonShuttingDown
	}
	return ""
}

// NewMetrics makes the series and registers them with reg (none when nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowbin_sip_calls_active", Help: "Calls in progress on this instance."}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowbin_sip_calls_total",
			Help: "Calls that ended, by direction (incoming, outgoing) and result (answered, unanswered, failed)."},
			[]string{"direction", "result"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowbin_sip_invites_rejected_total",
			Help: "INVITEs refused, by SIP status (400, 404, 480, 486, 488, 500, 503, other) and reason (bad_request, " +
				"no_codec, unknown_number, no_flow, customer_full, instance_full, shutting_down, server_error)."},
			[]string{"code", "reason"}),
		DialsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowbin_sip_dials_refused_total",
			Help: "Outbound calls refused, by reason (instance_full, customer_full, shutting_down)."}, []string{"reason"}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowbin_sip_rtp_foreign_packets_total",
			Help: "RTP packets ignored because they came from an address that is not the call's peer."}),
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowbin_sip_actions_total",
			Help: "Actions performed on calls, by type and outcome (done, skipped, failed, hangup)."}, []string{"type", "outcome"}),
		InProgress: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "flowbin_sip_actions_in_progress",
			Help: "Calls performing an action now, by type (the actions the runner performs: answer, talk, play, echo, connect…)."},
			[]string{"type"}),
		Gap: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowbin_sip_rtp_gap_seconds",
			Help:    "Time between two audio packets of a call, as read by the runner.",
			Buckets: []float64{.005, .01, .02, .025, .03, .035, .04, .05, .06, .08, .1, .15, .2, .3, .5, 1}}),
		Reaped: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowbin_sip_calls_reaped_total",
			Help: "Calls of lost runners (their lease expired: a crashed or killed instance) that this instance ended."}),
	}
	if reg != nil {
		reg.MustRegister(m.Active, m.Calls, m.Rejected, m.DialsRefused, m.Dropped, m.Actions, m.InProgress, m.Gap, m.Reaped)
	}
	return m
}

func (m *Metrics) rejected(code int, reason string) {
	label := "other"
	if rejectCodes[code] {
		label = strconv.Itoa(code)
	}
	m.Rejected.WithLabelValues(label, reason).Inc()
}
