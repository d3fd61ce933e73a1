package server_test

import (
	"net/http"
	"testing"

	"github.com/flowbin/flowbin/internal/metrics"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestStartReadsTheFlowCache: a call's start reads its flow through the flow cache (a hit costs no query), and runs
// what a read of the store would give it: the revision current when it starts, and no flow once it is deleted.
func TestStartReadsTheFlowCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		m := metrics.New()
		e := newEnv(t, b, func(c *server.Config) { c.Metrics = m })
		hits := func() float64 { return value(scrape(t, m), "flowbin_flow_cache_requests_total", "result", "hit") }
		sub := e.createFlow(e.alice, `{"name":"after","actions":[{"type":"hangup"}]}`)
		f := e.createFlow(e.alice, `{"name":"v1","on_complete_flow_id":"`+sub.ID+`","actions":[
			{"type":"talk","option":{"text":"version one"}},{"type":"hangup"}]}`)

		a := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`) // a miss: read, then cached
		h0 := hits()
		b1 := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
		if got := hits(); got < h0+1 {
			t.Errorf("a second start of the flow: %v cache hits, want at least %v", got, h0+1)
		}
		for _, x := range []apiActiveflow{a, b1} {
			if x.FlowRevision != 1 || x.CurrentAction == nil || x.CurrentAction.ID != f.Actions[0].ID ||
				x.OnCompleteFlowID != sub.ID {
				t.Fatalf("a start of revision 1: %+v", x)
			}
		}
		// Its on_complete_flow_id starts when it ends: read through the cache as well.
		ended := e.drive(e.alice, b1, "")
		if ended.OnCompleteActiveflowID == "" || ended.OnCompleteError != "" {
			t.Fatalf("the end started nothing: %+v", ended)
		}

		e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, `{"name":"v2","actions":[{"type":"answer"},{"type":"hangup"}]}`).
			wantStatus(http.StatusOK)
		v2 := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
		if v2.FlowRevision != 2 || v2.CurrentAction.Type != "answer" || v2.OnCompleteFlowID == sub.ID {
			t.Fatalf("a start after the PUT runs revision 2 without on_complete_flow_id: %+v", v2)
		}
		e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`) // cached again

		// Another customer's start never reads alice's cached flow.
		e.as(e.bob, "POST", "/v1.0/activeflows", `{"flow_id":"`+f.ID+`"}`).wantError(http.StatusBadRequest, "INVALID_FLOW_REFERENCE")

		e.as(e.alice, "DELETE", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusNoContent)
		e.as(e.alice, "POST", "/v1.0/activeflows", `{"flow_id":"`+f.ID+`"}`).wantError(http.StatusBadRequest, "INVALID_FLOW_REFERENCE")
	})
}
