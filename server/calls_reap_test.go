package server_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestReapCallsOfALostRunner: a runner whose instance is lost stops renewing the leases of its calls; once a lease
// has expired, any instance ends the call (hangup, local, failed), its activeflow ("hangup") and its open
// recording, and call_hangup is written once although several instances reap at the same time. The calls of a
// runner that renews its leases are never touched, and a late write of the lost runner changes nothing.
func TestReapCallsOfALostRunner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		t.Parallel()
		e := newEnv(t, b)
		ctx := context.Background()
		alice := uuid.MustParse(e.alice.customerID)
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": "https://hooks.example.com/flowbin", "webhook_method": "POST"}).
			wantStatus(http.StatusOK)
		f := e.createFlow(e.alice, `{"name":"ivr","actions":[{"type":"answer"},{"type":"talk","option":{"text":"hello"}}]}`)
		tel := e.server.Telephony()
		// Several instances reap: on PostgreSQL, another server with a store (and pool) of its own.
		reapers := []*server.Telephony{tel, e.server.Telephony()}
		if b == storetest.Postgres {
			_, other := e.instanceOn(t, server.Config{}, e.stCfg)
			reapers = append(reapers, other.Telephony(), other.Telephony())
		}

		lostRunner, liveRunner := uuid.New(), uuid.New()
		start := e.clock.Now()
		placeCall := func(runner uuid.UUID) *sip.Call {
			t.Helper()
			c := &sip.Call{CustomerID: alice, FlowID: uuid.MustParse(f.ID), Direction: sip.DirectionIncoming,
				Status: sip.StatusRinging, Source: sip.Address{Type: "sip", Target: "sip:carol@127.0.0.1"},
				Destination: sip.Address{Type: "tel", Target: "+15551230001"}, TmRinging: start,
				RunnerID: runner, LeaseUntil: start.Add(30 * time.Second)}
			if err := tel.CreateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
			step, err := tel.Start(ctx, sip.StartRequest{CustomerID: alice, FlowID: c.FlowID, ReferenceType: "call", ReferenceID: c.ID})
			if err != nil {
				t.Fatal(err)
			}
			c.ActiveflowID, c.Status, c.TmProgressing = step.ActiveflowID, sip.StatusProgressing, start
			if err := tel.UpdateCall(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		lost, live := placeCall(lostRunner), placeCall(liveRunner)
		rec := &sip.Recording{CustomerID: alice, CallID: lost.ID, ActiveflowID: lost.ActiveflowID, Format: "wav",
			Path: "recordings/lost.wav", TmStart: start}
		if err := tel.CreateRecording(ctx, rec); err != nil {
			t.Fatal(err)
		}

		// 20 s on, the live runner renews; nothing has expired.
		e.clock.Advance(20 * time.Second)
		if err := tel.RenewLeases(ctx, liveRunner, e.clock.Now().Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if n, err := tel.ReapCalls(ctx); err != nil || n != 0 {
			t.Fatalf("reap before any lease expired: %d %v", n, err)
		}
		// 35 s on, the lost runner's lease has expired; the live one's holds. Every instance reaps at once.
		e.clock.Advance(15 * time.Second)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total int
		)
		for _, r := range reapers {
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := r.ReapCalls(ctx)
					if err != nil {
						t.Errorf("reap: %v", err)
					}
					mu.Lock()
					total += n
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		if total != 1 {
			t.Fatalf("calls ended by the reapers together: %d, want 1", total)
		}

		var call apiCall
		e.as(e.alice, "GET", "/v1.0/calls/"+lost.ID.String(), nil).wantStatus(http.StatusOK).decode(&call)
		if call.Status != "hangup" || call.HangupBy != "local" || call.HangupReason != "failed" || call.TMHangup == "" ||
			call.RecordingID != zeroID {
			t.Errorf("the lost runner's call: %+v", call)
		}
		var af struct {
			Status    string `json:"status"`
			EndReason string `json:"end_reason"`
		}
		e.as(e.alice, "GET", "/v1.0/activeflows/"+lost.ActiveflowID.String(), nil).wantStatus(http.StatusOK).decode(&af)
		if af.Status != "ended" || af.EndReason != "hangup" {
			t.Errorf("the lost call's activeflow: %+v", af)
		}
		var r struct{ Status string }
		e.as(e.alice, "GET", "/v1.0/recordings/"+rec.ID.String(), nil).wantStatus(http.StatusOK).decode(&r)
		if r.Status != "ended" {
			t.Errorf("the lost call's recording: %+v", r)
		}
		msgs, err := e.st.ListOutbox(ctx, alice, lost.ActiveflowID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, m := range msgs {
			count[m.EventType]++
		}
		if count["call_hangup"] != 1 || count["recording_finished"] != 1 {
			t.Errorf("events of the lost call: %v, want call_hangup and recording_finished once", count)
		}

		// The live runner's call is untouched.
		e.as(e.alice, "GET", "/v1.0/calls/"+live.ID.String(), nil).wantStatus(http.StatusOK).decode(&call)
		if call.Status != "progressing" || call.HangupReason != "" {
			t.Errorf("the live runner's call: %+v", call)
		}
		e.as(e.alice, "GET", "/v1.0/activeflows/"+live.ActiveflowID.String(), nil).wantStatus(http.StatusOK).decode(&af)
		if af.Status != "running" {
			t.Errorf("the live call's activeflow: %+v", af)
		}

		// The lost runner comes back late (it was cut off, not dead): its writes change nothing.
		lost.Status, lost.HangupBy, lost.HangupReason = sip.StatusHangup, sip.HangupByRemote, sip.HangupReasonNormal
		if err := tel.UpdateCall(ctx, lost); err != nil {
			t.Fatal(err)
		}
		e.as(e.alice, "GET", "/v1.0/calls/"+lost.ID.String(), nil).wantStatus(http.StatusOK).decode(&call)
		if call.HangupReason != "failed" || call.HangupBy != "local" {
			t.Errorf("a late write of the lost runner changed the call: %+v", call)
		}
		if n, err := tel.ReapCalls(ctx); err != nil || n != 0 {
			t.Errorf("a second round: %d %v", n, err)
		}
	})
}
