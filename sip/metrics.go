package sip

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the runner's Prometheus series. Every label has a closed set of values.
type Metrics struct {
	Active   prometheus.Gauge
	Calls    *prometheus.CounterVec // direction, result
	Rejected *prometheus.CounterVec // code: the SIP status of the refusal
	Dropped  prometheus.Counter     // RTP packets from an address that is not the call's peer
	Actions  *prometheus.CounterVec // type (the runner's action types, or "other"), outcome
}

// rejectCodes are the statuses a refused INVITE may get; any other is counted as "other".
var rejectCodes = map[int]bool{400: true, 404: true, 480: true, 486: true, 488: true, 500: true, 503: true}

// NewMetrics makes the series and registers them with reg (none when nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowbin_sip_calls_active", Help: "Calls in progress on this instance."}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowbin_sip_calls_total",
			Help: "Calls that ended, by direction (incoming, outgoing) and result (answered, unanswered, failed)."},
			[]string{"direction", "result"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowbin_sip_invites_rejected_total",
			Help: "INVITEs refused, by SIP status (400, 404, 480, 486, 488, 500, 503, other)."}, []string{"code"}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowbin_sip_rtp_foreign_packets_total",
			Help: "RTP packets ignored because they came from an address that is not the call's peer."}),
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowbin_sip_actions_total",
			Help: "Actions performed on calls, by type and outcome (done, skipped, failed, hangup)."}, []string{"type", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.Active, m.Calls, m.Rejected, m.Dropped, m.Actions)
	}
	return m
}

func (m *Metrics) rejected(code int) {
	label := "other"
	if rejectCodes[code] {
		label = strconv.Itoa(code)
	}
	m.Rejected.WithLabelValues(label).Inc()
}
