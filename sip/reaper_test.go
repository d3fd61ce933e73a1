package sip_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/emiago/diago"
	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"

	"github.com/flowbin/flowbin/internal/apitest"
	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestLostRunnersCallsAreEndedByAnother: two runners on one database, each carrying a call. One is lost (it stops
// renewing its leases, as a crashed instance does, and writes nothing more): the other ends its call (hangup,
// local, failed) and the call's activeflow (hangup), while its own call, whose first lease expired long before,
// goes on because it renews it.
func TestLostRunnersCallsAreEndedByAnother(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		st := storetest.Open(t, b)
		s, srv, pw := serveFlowbin(t, st)
		hash, _ := pw.Hash("pw-alice-1234")
		u, err := st.CreateUser(context.Background(), "alice-co", "alice", hash)
		if err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, srv: srv, customerID: u.CustomerID,
			client: &http.Client{Transport: &apitest.Transport{Contract: contract, T: t}, Timeout: 30 * time.Second}}
		var login struct{ Token string }
		h.do("POST", "/auth/login", map[string]string{"username": "alice", "password": "pw-alice-1234"}, http.StatusOK, &login)
		h.token = login.Token
		var f struct{ ID uuid.UUID }
		h.do("POST", "/v1.0/flows", map[string]any{"name": "long call", "actions": []map[string]any{
			{"type": "answer"}, {"type": "sleep", "option": map[string]any{"duration": 60000}}}}, http.StatusOK, &f)
		h.do("POST", "/v1.0/numbers", map[string]any{"number": "+15550030000", "call_flow_id": f.ID}, http.StatusOK, nil)

		tel := s.Telephony()
		const ttl = 300 * time.Millisecond
		newRunner := func() (*sip.Runner, *sip.Metrics) {
			m := sip.NewMetrics(nil)
			r, err := sip.New(sip.Config{ListenAddr: "127.0.0.1:0", Directory: tel, Ledger: tel, Flows: tel,
				Speaker: toneSpeaker{}, Log: quietLog(t), LeaseTTL: ttl, Metrics: m})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = r.Shutdown(ctx)
			})
			return r, m
		}
		lostRunner, _ := newRunner()
		liveRunner, liveMetrics := newRunner()
		p := newPhone(t)
		dial := func(r *sip.Runner) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a := r.Addr()
			d, _, err := p.dg.Invite(ctx, sipgosip.Uri{Scheme: "sip", User: "+15550030000", Host: a.Addr().String(), Port: int(a.Port())}, diago.InviteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = d.Hangup(ctx)
			})
		}
		dial(lostRunner)
		dial(liveRunner)
		type apiCall struct {
			ID           uuid.UUID `json:"id"`
			ActiveflowID uuid.UUID `json:"activeflow_id"`
			Status       string    `json:"status"`
			HangupBy     string    `json:"hangup_by"`
			HangupReason string    `json:"hangup_reason"`
		}
		var calls struct{ Result []apiCall }
		waitFor(t, 10*time.Second, "both calls answered", func() bool {
			h.do("GET", "/v1.0/calls", nil, http.StatusOK, &calls)
			n := 0
			for _, c := range calls.Result {
				if c.Status == "progressing" && c.ActiveflowID != uuid.Nil {
					n++
				}
			}
			return n == 2
		})
		byRunner := map[uuid.UUID]apiCall{}
		for _, c := range calls.Result {
			row, err := st.CallByID(context.Background(), c.ID)
			if err != nil || row.RunnerID == nil {
				t.Fatalf("call %s: %+v %v", c.ID, row, err)
			}
			byRunner[*row.RunnerID] = c
		}
		lost, live := byRunner[lostRunner.ID()], byRunner[liveRunner.ID()]
		if lost.ID == uuid.Nil || live.ID == uuid.Nil {
			t.Fatalf("the calls' runners: %v", byRunner)
		}
		answered := time.Now()

		sip.LoseForTest(lostRunner)
		var c apiCall
		waitFor(t, 10*time.Second, "the lost runner's call ended", func() bool {
			h.do("GET", "/v1.0/calls/"+lost.ID.String(), nil, http.StatusOK, &c)
			return c.Status == "hangup"
		})
		if c.HangupBy != "local" || c.HangupReason != "failed" {
			t.Errorf("the lost runner's call: %+v", c)
		}
		var af struct {
			Status    string `json:"status"`
			EndReason string `json:"end_reason"`
		}
		h.do("GET", "/v1.0/activeflows/"+lost.ActiveflowID.String(), nil, http.StatusOK, &af)
		if af.Status != "ended" || af.EndReason != "hangup" {
			t.Errorf("the lost call's activeflow: %+v", af)
		}
		// The reaper counts the call once its transaction has committed, which the API can show first.
		reaped := func() float64 {
			var m dto.Metric
			if err := liveMetrics.Reaped.Write(&m); err != nil {
				t.Fatal(err)
			}
			return m.GetCounter().GetValue()
		}
		waitFor(t, 5*time.Second, "the live runner counts the call it reaped", func() bool { return reaped() >= 1 })
		if got := reaped(); got != 1 {
			t.Errorf("flowbin_sip_calls_reaped_total of the live runner: %v, want 1", got)
		}
		// The live runner's call outlived its first lease many times over, renewed.
		waitFor(t, 5*time.Second, "two leases' time", func() bool { return time.Since(answered) >= 2*ttl })
		h.do("GET", "/v1.0/calls/"+live.ID.String(), nil, http.StatusOK, &c)
		if c.Status != "progressing" {
			t.Errorf("the live runner's call: %+v", c)
		}
		h.do("GET", "/v1.0/activeflows/"+live.ActiveflowID.String(), nil, http.StatusOK, &af)
		if af.Status != "running" {
			t.Errorf("the live call's activeflow: %+v", af)
		}
	})
}
