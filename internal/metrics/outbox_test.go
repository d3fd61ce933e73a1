package metrics_test

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowbin/flowbin/internal/metrics"
)

func TestOutboxFamilies(t *testing.T) {
	m := metrics.New()
	depth := int64(7)
	var fail error
	if err := m.WatchOutbox(func() (int64, error) { return depth, fail }); err != nil {
		t.Fatal(err)
	}
	m.ObserveDelivery("activeflow_updated", 503, nil)
	m.ObserveDelivery("activeflow_updated", 0, errors.New("refused"))
	m.ObserveDelivery("activeflow_updated", 200, nil)
	m.ObserveDelivery("webhook_send", 204, nil)
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	out := scrape()
	for _, want := range []string{
		`flowbin_outbox_pending 7`,
		`flowbin_outbox_deliveries_total{outcome="failed",type="activeflow_updated"} 2`,
		`flowbin_outbox_deliveries_total{outcome="delivered",type="activeflow_updated"} 1`,
		`flowbin_outbox_deliveries_total{outcome="delivered",type="webhook_send"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	fail = errors.New("database down")
	if out := scrape(); !strings.Contains(out, "flowbin_outbox_pending NaN") {
		t.Errorf("a depth that cannot be read must show as NaN")
	}
}
