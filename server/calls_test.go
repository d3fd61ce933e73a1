package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store/storetest"
)

type apiNumber struct {
	ID            string `json:"id"`
	CustomerID    string `json:"customer_id"`
	Number        string `json:"number"`
	CallFlowID    string `json:"call_flow_id"`
	MessageFlowID string `json:"message_flow_id"`
	Name          string `json:"name"`
	Detail        string `json:"detail"`
	Status        string `json:"status"`
	TMUpdate      string `json:"tm_update"`
	TMDelete      string `json:"tm_delete"`
}

type apiCall struct {
	ID           string   `json:"id"`
	FlowID       string   `json:"flow_id"`
	ActiveflowID string   `json:"activeflow_id"`
	Status       string   `json:"status"`
	Direction    string   `json:"direction"`
	HangupBy     string   `json:"hangup_by"`
	HangupReason string   `json:"hangup_reason"`
	RecordingID  string   `json:"recording_id"`
	RecordingIDs []string `json:"recording_ids"`
	Source       struct {
		Type, Target string
	} `json:"source"`
	Destination struct {
		Type, Target string
	} `json:"destination"`
	TMProgressing string `json:"tm_progressing"`
	TMHangup      string `json:"tm_hangup"`
}

const zeroID = "00000000-0000-0000-0000-000000000000"

// TestNumbersAPI: numbers in VoIPbin's shape; one number, one customer; flows must be the caller's; another
// customer's number answers 404; delete answers the number, deleted, and frees it.
func TestNumbersAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		t.Parallel()
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"ivr","actions":[{"type":"answer"}]}`)
		bobFlow := e.createFlow(e.bob, `{"name":"bob's","actions":[{"type":"answer"}]}`)

		var n apiNumber
		e.as(e.alice, "POST", "/v1.0/numbers", map[string]any{"number": "+15551230001", "call_flow_id": f.ID,
			"message_flow_id": zeroID, "name": "support", "detail": "web", "status": "ignored"}).
			wantStatus(http.StatusOK).decode(&n)
		if n.Number != "+15551230001" || n.CallFlowID != f.ID || n.MessageFlowID != zeroID || n.Status != "active" ||
			n.CustomerID != e.alice.customerID || n.TMUpdate != "" || n.TMDelete != "" {
			t.Fatalf("created: %+v", n)
		}
		e.as(e.bob, "POST", "/v1.0/numbers", `{"number":"+15551230001"}`).wantError(http.StatusConflict, "NUMBER_TAKEN")
		e.as(e.alice, "POST", "/v1.0/numbers", `{"number":"0555123"}`).wantError(http.StatusBadRequest, "INVALID_REQUEST_BODY")
		bad := e.as(e.alice, "POST", "/v1.0/numbers", map[string]any{"number": "+15551230002", "call_flow_id": bobFlow.ID}).
			wantError(http.StatusBadRequest, "INVALID_FLOW_REFERENCE")
		if len(bad.Details) != 1 || bad.Details[0].Pointer != "/call_flow_id" {
			t.Errorf("details: %+v", bad.Details)
		}

		e.as(e.bob, "GET", "/v1.0/numbers/"+n.ID, nil).wantError(http.StatusNotFound, "NUMBER_NOT_FOUND")
		e.as(e.bob, "PUT", "/v1.0/numbers/"+n.ID, `{"name":"mine"}`).wantError(http.StatusNotFound, "NUMBER_NOT_FOUND")
		e.as(e.bob, "DELETE", "/v1.0/numbers/"+n.ID, nil).wantError(http.StatusNotFound, "NUMBER_NOT_FOUND")
		e.as(e.bob, "PUT", "/v1.0/numbers/"+n.ID+"/flow_id", map[string]any{"call_flow_id": bobFlow.ID}).
			wantError(http.StatusNotFound, "NUMBER_NOT_FOUND")

		var got apiNumber
		e.as(e.alice, "GET", "/v1.0/numbers/"+n.ID, nil).wantStatus(http.StatusOK).decode(&got)
		if got != n {
			t.Errorf("get: %+v, want %+v", got, n)
		}
		e.clock.Advance(time.Second)
		e.as(e.alice, "PUT", "/v1.0/numbers/"+n.ID, map[string]any{"call_flow_id": zeroID, "message_flow_id": zeroID,
			"name": "after hours", "detail": "", "number": "+19999999999"}).wantStatus(http.StatusOK).decode(&got)
		if got.CallFlowID != zeroID || got.Name != "after hours" || got.Number != n.Number || got.TMUpdate == "" {
			t.Errorf("update: %+v", got)
		}
		e.as(e.alice, "PUT", "/v1.0/numbers/"+n.ID+"/flow_id", map[string]any{"call_flow_id": f.ID}).
			wantStatus(http.StatusOK).decode(&got)
		if got.CallFlowID != f.ID || got.Name != "after hours" {
			t.Errorf("flow_id: %+v", got)
		}
		e.as(e.alice, "PUT", "/v1.0/numbers/"+n.ID+"/flow_id", map[string]any{"message_flow_id": bobFlow.ID}).
			wantError(http.StatusBadRequest, "INVALID_FLOW_REFERENCE")

		var list struct {
			Result        []apiNumber
			NextPageToken string `json:"next_page_token"`
		}
		e.as(e.alice, "GET", "/v1.0/numbers", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 1 || list.Result[0].ID != n.ID || list.NextPageToken == "" {
			t.Errorf("list: %+v", list)
		}
		e.as(e.bob, "GET", "/v1.0/numbers", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 0 {
			t.Errorf("bob lists alice's number: %+v", list)
		}

		e.as(e.alice, "DELETE", "/v1.0/numbers/"+n.ID, nil).wantStatus(http.StatusOK).decode(&got)
		if got.Status != "deleted" || got.TMDelete == "" {
			t.Errorf("deleted: %+v", got)
		}
		e.as(e.alice, "GET", "/v1.0/numbers/"+n.ID, nil).wantError(http.StatusNotFound, "NUMBER_NOT_FOUND")
		e.as(e.bob, "POST", "/v1.0/numbers", `{"number":"+15551230001"}`).wantStatus(http.StatusOK)
	})
}

// TestDirectHashAPI: a flow has no direct hash until one is made; regenerating replaces it; the flow's answers
// carry it; another customer's flow answers 404.
func TestDirectHashAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		t.Parallel()
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"direct","actions":[{"type":"answer"}]}`)
		var got struct {
			DirectHash string `json:"direct_hash"`
			Revision   int
		}
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusOK).decode(&got)
		if got.DirectHash != "" {
			t.Errorf("a new flow's direct hash: %q", got.DirectHash)
		}
		res := e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/direct-hash-regenerate", nil).wantStatus(http.StatusOK)
		res.decode(&got)
		first := got.DirectHash
		if len(first) != len("direct.")+12 || first[:7] != "direct." || got.Revision != 1 || res.header.Get("ETag") != `"r1"` {
			t.Errorf("regenerated: %+v %s", got, res.header.Get("ETag"))
		}
		e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/direct-hash-regenerate", nil).wantStatus(http.StatusOK).decode(&got)
		if got.DirectHash == first {
			t.Error("regenerating kept the hash")
		}
		second := got.DirectHash
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusOK).decode(&got)
		if got.DirectHash != second {
			t.Errorf("GET after regenerating answers %q, want %q", got.DirectHash, second)
		}
		e.as(e.bob, "POST", "/v1.0/flows/"+f.ID+"/direct-hash-regenerate", nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
		route, err := e.server.Telephony().Route(context.Background(), second)
		if err != nil || route.FlowID.String() != f.ID || route.CustomerID.String() != e.alice.customerID {
			t.Errorf("route of the hash: %+v %v", route, err)
		}
		if _, err := e.server.Telephony().Route(context.Background(), first); !errors.Is(err, sip.ErrUnknownNumber) {
			t.Errorf("route of the old hash: %v", err)
		}
	})
}

// TestCallsWithoutSIP: a server without SIP answers bad requests 400 (every problem at once) and good ones 503
// SIP_NOT_CONFIGURED, never 500; a hangup of a call there is handed to the instance holding it (terminating).
func TestCallsWithoutSIP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		t.Parallel()
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"ivr","actions":[{"type":"answer"}]}`)
		bad := e.as(e.alice, "POST", "/v1.0/calls", map[string]any{
			"source":       map[string]any{"type": "tel", "target": "+15551230001"},
			"destinations": []any{map[string]any{"type": "sip", "target": "bob"}, map[string]any{"type": "agent", "target": uuid.NewString()}},
			"flow_id":      f.ID, "actions": []any{map[string]any{"type": "answer"}},
		}).wantError(http.StatusBadRequest, "INVALID_DESTINATION")
		if len(bad.Details) != 3 || bad.Details[0].Pointer != "/destinations/0/target" || bad.Details[1].Reason != "UNSUPPORTED_DESTINATION" ||
			bad.Details[2].Reason != "FLOW_OR_ACTIONS" {
			t.Errorf("details: %+v", bad.Details)
		}
		e.as(e.alice, "POST", "/v1.0/calls", map[string]any{
			"source":       map[string]any{"type": "tel", "target": "+15551230001"},
			"destinations": []any{map[string]any{"type": "sip", "target": "sip:bob@127.0.0.1"}},
			"actions":      []any{map[string]any{"type": "tlak"}},
		}).wantError(http.StatusBadRequest, "INVALID_REQUEST_BODY")
		e.as(e.bob, "POST", "/v1.0/calls", map[string]any{
			"source":       map[string]any{"type": "tel", "target": "+15551230001"},
			"destinations": []any{map[string]any{"type": "sip", "target": "sip:bob@127.0.0.1"}},
			"flow_id":      f.ID,
		}).wantError(http.StatusBadRequest, "INVALID_FLOW_REFERENCE")
		e.as(e.alice, "POST", "/v1.0/calls", map[string]any{
			"source":       map[string]any{"type": "tel", "target": "+15551230001"},
			"destinations": []any{map[string]any{"type": "tel", "target": "+15551230002"}},
			"flow_id":      f.ID, "variables": map[string]string{"campaign": "december"}, "anonymous": "auto",
		}).wantError(http.StatusServiceUnavailable, "SIP_NOT_CONFIGURED")

		// A call held by another instance: this one marks it terminating and announces it.
		tel := e.server.Telephony()
		c := &sip.Call{CustomerID: uuid.MustParse(e.alice.customerID), Direction: sip.DirectionIncoming, Status: sip.StatusProgressing,
			Source: sip.Address{Type: "sip", Target: "sip:alice@127.0.0.1"}, Destination: sip.Address{Type: "tel", Target: "+15551230001"},
			TmProgressing: time.Now()}
		if err := tel.CreateCall(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		e.as(e.bob, "POST", "/v1.0/calls/"+c.ID.String()+"/hangup", nil).wantError(http.StatusNotFound, "CALL_NOT_FOUND")
		var got apiCall
		e.as(e.alice, "POST", "/v1.0/calls/"+c.ID.String()+"/hangup", nil).wantStatus(http.StatusOK).decode(&got)
		if got.Status != "terminating" {
			t.Errorf("hangup on an instance without the call: %+v", got)
		}
	})
}

// fakeRunner stands in for the SIP runner: it places calls through the ledger (as the runner does) and holds them
// until hung up.
type fakeRunner struct {
	tel   *server.Telephony
	mu    sync.Mutex
	held  map[uuid.UUID]*sip.Call
	dial  []sip.DialRequest
	async bool // Hangup lets go of the call without writing its hangup (as the far end has not answered the BYE yet)
	// refuseAfter, when > 0, refuses the destinations after that many with refuse (as a runner at its limit of
	// calls).
	refuseAfter int
	refuse      error
	// failWith, when set, refuses the whole request with it.
	failWith error
}

func (r *fakeRunner) Dial(ctx context.Context, d sip.DialRequest) ([]sip.Call, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dial = append(r.dial, d)
	if r.failWith != nil {
		return nil, r.failWith
	}
	var out []sip.Call
	for i, dest := range d.Destinations {
		if r.refuseAfter > 0 && i >= r.refuseAfter {
			return out, fmt.Errorf("%w (1)", r.refuse)
		}
		c := &sip.Call{CustomerID: d.CustomerID, FlowID: d.FlowID, Direction: sip.DirectionOutgoing, Source: d.Source,
			Destination: dest, Status: sip.StatusDialing}
		if err := r.tel.CreateCall(ctx, c); err != nil {
			return nil, err
		}
		r.held[c.ID] = c
		out = append(out, *c)
	}
	return out, nil
}

func (r *fakeRunner) Hangup(ctx context.Context, _, callID uuid.UUID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.held[callID]
	if !ok {
		return sip.ErrCallNotHere
	}
	delete(r.held, callID)
	if r.async {
		return nil
	}
	c.Status, c.HangupBy, c.HangupReason, c.TmHangup = sip.StatusHangup, sip.HangupByLocal, sip.HangupReasonNormal, time.Now()
	return r.tel.UpdateCall(ctx, c)
}

// TestCallLifecycle: an incoming call to a number runs its flow through the ledger and the activeflow use case as
// the SIP runner drives them; every status is an event in the same transaction; a recording is listed, played
// (with ranges) and deleted; a hangup ends the activeflow "hangup" and closes the open recording; placed calls
// go through the runner; other customers see none of it.
func TestCallLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		t.Parallel()
		dataDir := t.TempDir()
		e := newEnv(t, b, func(c *server.Config) { c.DataDir = dataDir })
		ctx := context.Background()
		alice := uuid.MustParse(e.alice.customerID)
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": "https://hooks.example.com/flowbin", "webhook_method": "POST"}).
			wantStatus(http.StatusOK)
		f := e.createFlow(e.alice, `{"name":"ivr","actions":[{"type":"answer"},{"type":"recording_start"},{"type":"talk","option":{"text":"hello"}},{"type":"hangup"}]}`)
		var n apiNumber
		e.as(e.alice, "POST", "/v1.0/numbers", map[string]any{"number": "+15551230001", "call_flow_id": f.ID}).
			wantStatus(http.StatusOK).decode(&n)
		var bare apiNumber
		e.as(e.alice, "POST", "/v1.0/numbers", map[string]any{"number": "+15551230009"}).wantStatus(http.StatusOK).decode(&bare)

		tel := e.server.Telephony()
		for user, want := range map[string]error{"+15551230009": sip.ErrNoFlow, "15551230008": sip.ErrUnknownNumber, "direct.000000000000": sip.ErrUnknownNumber} {
			if _, err := tel.Route(ctx, user); !errors.Is(err, want) {
				t.Errorf("route %s: %v, want %v", user, err, want)
			}
		}
		route, err := tel.Route(ctx, "15551230001")
		if err != nil || route.FlowID.String() != f.ID || route.NumberID.String() != n.ID || route.CustomerID != alice {
			t.Fatalf("route: %+v %v", route, err)
		}

		c := &sip.Call{CustomerID: alice, FlowID: route.FlowID, Direction: sip.DirectionIncoming, Status: sip.StatusRinging,
			Source:      sip.Address{Type: "sip", Target: "sip:carol@127.0.0.1", TargetName: "Carol"},
			Destination: sip.Address{Type: "tel", Target: "+15551230001"}, TmRinging: time.Now()}
		if err := tel.CreateCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		step, err := tel.Start(ctx, sip.StartRequest{CustomerID: alice, FlowID: route.FlowID, ReferenceType: "call", ReferenceID: c.ID,
			Variables: map[string]string{"voipbin.call.source.target": "sip:carol@127.0.0.1"}})
		if err != nil || step.Ended || step.Action == nil || step.Action.Type != "answer" || step.Step != 1 {
			t.Fatalf("start: %+v %v", step, err)
		}
		c.ActiveflowID = step.ActiveflowID
		// The call's activeflow says it belongs to the call, as VoIPbin's does.
		wantFields(t, "call's activeflow", e.as(e.alice, "GET", "/v1.0/activeflows/"+c.ActiveflowID.String(), nil).wantStatus(http.StatusOK).object(),
			map[string]any{"reference_type": "call", "reference_id": c.ID.String()})
		c.Status, c.TmProgressing = sip.StatusProgressing, time.Now()
		if err := tel.UpdateCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		if step, err = tel.Next(ctx, alice, c.ActiveflowID, step.Step, sip.Report{}); err != nil || step.Action.Type != "recording_start" {
			t.Fatalf("next: %+v %v", step, err)
		}
		if _, err := tel.Next(ctx, alice, c.ActiveflowID, 1, sip.Report{}); err == nil {
			t.Error("a report of a step that is over was taken")
		}

		// A recording: its file under the data directory.
		wav := append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 4000)...)
		if err := os.MkdirAll(filepath.Join(dataDir, "recordings"), 0o755); err != nil {
			t.Fatal(err)
		}
		rec := &sip.Recording{CustomerID: alice, CallID: c.ID, ActiveflowID: c.ActiveflowID, Format: "wav",
			Path: filepath.Join("recordings", "one.wav"), TmStart: time.Now()}
		if err := tel.CreateRecording(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dataDir, rec.Path), wav, 0o644); err != nil {
			t.Fatal(err)
		}
		var call apiCall
		e.as(e.alice, "GET", "/v1.0/calls/"+c.ID.String(), nil).wantStatus(http.StatusOK).decode(&call)
		if call.Status != "progressing" || call.ActiveflowID != c.ActiveflowID.String() || call.FlowID != f.ID ||
			call.RecordingID != rec.ID.String() || !slices.Equal(call.RecordingIDs, []string{rec.ID.String()}) ||
			call.Source.Target != "sip:carol@127.0.0.1" || call.Direction != "incoming" || call.TMProgressing == "" {
			t.Fatalf("call: %+v", call)
		}
		e.as(e.alice, "GET", "/v1.0/recordingfiles/"+rec.ID.String(), nil).wantError(http.StatusConflict, "RECORDING_IN_PROGRESS")
		e.as(e.alice, "DELETE", "/v1.0/recordings/"+rec.ID.String(), nil).wantError(http.StatusConflict, "RECORDING_IN_PROGRESS")

		// The caller hangs up: the activeflow ends "hangup", the open recording ends.
		c.Status, c.HangupBy, c.HangupReason, c.TmHangup = sip.StatusHangup, sip.HangupByRemote, sip.HangupReasonNormal, time.Now()
		if err := tel.UpdateCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := tel.Stop(ctx, alice, c.ActiveflowID); err != nil {
			t.Errorf("stop after the hangup: %v", err)
		}
		if step, err := tel.Next(ctx, alice, c.ActiveflowID, 2, sip.Report{}); err != nil || !step.Ended || step.EndReason != "hangup" {
			t.Errorf("next after the hangup: %+v %v", step, err)
		}
		var af struct {
			Status    string `json:"status"`
			EndReason string `json:"end_reason"`
			Variables map[string]string
		}
		e.as(e.alice, "GET", "/v1.0/activeflows/"+c.ActiveflowID.String(), nil).wantStatus(http.StatusOK).decode(&af)
		if af.EndReason != "hangup" || af.Status != "ended" || af.Variables["voipbin.call.source.target"] != "sip:carol@127.0.0.1" ||
			af.Variables["voipbin.activeflow.reference_type"] != "call" || af.Variables["voipbin.activeflow.reference_id"] != c.ID.String() {
			t.Errorf("activeflow after the hangup: %+v", af)
		}
		e.as(e.alice, "GET", "/v1.0/calls/"+c.ID.String(), nil).wantStatus(http.StatusOK).decode(&call)
		if call.Status != "hangup" || call.HangupBy != "remote" || call.HangupReason != "normal" || call.RecordingID != zeroID || call.TMHangup == "" {
			t.Errorf("call after the hangup: %+v", call)
		}
		// The runner closes the file after the hangup: no second event.
		if err := tel.FinishRecording(ctx, rec); err != nil {
			t.Fatal(err)
		}
		var events struct {
			Result []struct{ Type string }
		}
		e.as(e.alice, "GET", "/v1.0/activeflows/"+c.ActiveflowID.String()+"/events", nil).wantStatus(http.StatusOK).decode(&events)
		var types []string
		for _, ev := range events.Result {
			if ev.Type != "activeflow_updated" {
				types = append(types, ev.Type)
			}
		}
		want := []string{"activeflow_created", "call_progressing", "recording_started", "recording_finished", "call_hangup"}
		if !slices.Equal(types, want) {
			t.Errorf("events of the call's activeflow: %v, want %v", types, want)
		}

		// The recording: listed, played whole and in part, deleted with its file.
		var list struct {
			Result []struct {
				ReferenceID string `json:"reference_id"`
				Status      string `json:"status"`
			}
		}
		e.as(e.alice, "GET", "/v1.0/recordings", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 1 || list.Result[0].ReferenceID != c.ID.String() || list.Result[0].Status != "ended" {
			t.Errorf("recordings: %+v", list)
		}
		whole := e.as(e.alice, "GET", "/v1.0/recordingfiles/"+rec.ID.String(), nil).wantStatus(http.StatusOK)
		if string(whole.body) != string(wav) || whole.header.Get("Content-Type") != "audio/wav" {
			t.Errorf("file: %d bytes, %s", len(whole.body), whole.header.Get("Content-Type"))
		}
		part := e.as(e.alice, "GET", "/v1.0/recordingfiles/"+rec.ID.String(), nil, "Range", "bytes=0-3").wantStatus(http.StatusPartialContent)
		if string(part.body) != "RIFF" {
			t.Errorf("range: %q", part.body)
		}
		e.as(e.alice, "GET", "/v1.0/recordingfiles/"+rec.ID.String(), nil, "Range", "bytes=99999-").
			wantError(http.StatusRequestedRangeNotSatisfiable, "RANGE_NOT_SATISFIABLE")
		e.as(e.bob, "GET", "/v1.0/recordingfiles/"+rec.ID.String(), nil).wantError(http.StatusNotFound, "RECORDING_NOT_FOUND")
		e.as(e.bob, "GET", "/v1.0/recordings/"+rec.ID.String(), nil).wantError(http.StatusNotFound, "RECORDING_NOT_FOUND")
		e.as(e.bob, "GET", "/v1.0/calls/"+c.ID.String(), nil).wantError(http.StatusNotFound, "CALL_NOT_FOUND")
		var r struct {
			TMDelete string `json:"tm_delete"`
		}
		e.as(e.alice, "GET", "/v1.0/recordings/"+rec.ID.String(), nil).wantStatus(http.StatusOK)
		e.as(e.alice, "DELETE", "/v1.0/recordings/"+rec.ID.String(), nil).wantStatus(http.StatusOK).decode(&r)
		if r.TMDelete == "" {
			t.Errorf("deleted recording: %+v", r)
		}
		if _, err := os.Stat(filepath.Join(dataDir, rec.Path)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the file of a deleted recording: %v", err)
		}
		e.as(e.alice, "GET", "/v1.0/recordingfiles/"+rec.ID.String(), nil).wantError(http.StatusNotFound, "RECORDING_NOT_FOUND")

		// Placing calls goes through the runner; a hangup reaches the runner holding the call.
		runner := &fakeRunner{tel: tel, held: map[uuid.UUID]*sip.Call{}}
		e.server.SetCallRunner(runner)
		var placed struct {
			Calls      []apiCall
			Groupcalls []any
		}
		e.as(e.alice, "POST", "/v1.0/calls", map[string]any{
			"source":       map[string]any{"type": "tel", "target": "+15551230001"},
			"destinations": []any{map[string]any{"type": "sip", "target": "sip:bob@127.0.0.1:5062"}, map[string]any{"type": "tel", "target": "+15551230002"}},
			"actions":      []any{map[string]any{"type": "answer"}, map[string]any{"type": "hangup"}},
			"variables":    map[string]string{"campaign": "december", "voipbin.call.status": "ignored"},
		}).wantStatus(http.StatusOK).decode(&placed)
		if len(placed.Calls) != 2 || placed.Calls[0].Status != "dialing" || placed.Calls[0].Direction != "outgoing" ||
			placed.Calls[1].Destination.Target != "+15551230002" || placed.Groupcalls == nil {
			t.Fatalf("placed: %+v", placed)
		}
		if d := runner.dial[0]; len(d.Actions) != 2 || d.Variables["campaign"] != "december" || d.Variables["voipbin.call.status"] != "" {
			t.Errorf("dial request: %+v", d)
		}
		e.as(e.alice, "POST", "/v1.0/calls/"+placed.Calls[0].ID+"/hangup", nil).wantStatus(http.StatusOK).decode(&call)
		if call.Status != "hangup" || call.HangupBy != "local" {
			t.Errorf("hangup through the runner: %+v", call)
		}
		// A runner that writes the hangup later: the answer says the call is going.
		runner.async = true
		e.as(e.alice, "POST", "/v1.0/calls/"+placed.Calls[1].ID+"/hangup", nil).wantStatus(http.StatusOK).decode(&call)
		if call.Status != "canceling" {
			t.Errorf("hangup of a dialing call through a runner that writes later: %+v", call)
		}
		e.as(e.alice, "POST", "/v1.0/calls/"+placed.Calls[0].ID+"/hangup", nil).wantStatus(http.StatusOK).decode(&call)
		if call.Status != "hangup" {
			t.Errorf("a second hangup: %+v", call)
		}
		// A runner that refuses part of a request: 503, and the calls it placed are hung up, not left ringing.
		runner.async, runner.refuseAfter, runner.refuse = false, 1, sip.ErrCustomerFull
		refused := e.as(e.alice, "POST", "/v1.0/calls", map[string]any{
			"source":       map[string]any{"type": "tel", "target": "+15551230001"},
			"destinations": []any{map[string]any{"type": "sip", "target": "sip:carol@127.0.0.1"}, map[string]any{"type": "sip", "target": "sip:dave@127.0.0.1"}},
			"flow_id":      f.ID,
		})
		refused.wantError(http.StatusTooManyRequests, "CUSTOMER_CALL_LIMIT")
		if got := refused.header.Get("Retry-After"); got != "5" {
			t.Errorf("Retry-After of CUSTOMER_CALL_LIMIT: %q", got)
		}
		var calls struct{ Result []apiCall }
		e.as(e.alice, "GET", "/v1.0/calls?page_size=10", nil).wantStatus(http.StatusOK).decode(&calls)
		hungUp := 0
		for _, c := range calls.Result {
			if c.Direction == "outgoing" && c.Destination.Target == "sip:carol@127.0.0.1" {
				hungUp++
				if c.Status != "hangup" || c.HangupBy != "local" {
					t.Errorf("the call placed before the refusal: %+v", c)
				}
			}
		}
		if hungUp != 1 {
			t.Errorf("calls placed before the refusal: %d, want 1", hungUp)
		}
		// Each refusal of the runner has its own answer.
		for _, tc := range []struct {
			err        error
			status     int
			reason     string
			retryAfter string
		}{
			{sip.ErrInstanceFull, http.StatusServiceUnavailable, "INSTANCE_CALL_LIMIT", "5"},
			{sip.ErrShuttingDown, http.StatusServiceUnavailable, "SHUTTING_DOWN", "1"},
			{fmt.Errorf("%w: tel needs a trunk", sip.ErrBadDestination), http.StatusBadRequest, "INVALID_DESTINATION", ""},
		} {
			runner.refuseAfter, runner.refuse = 0, nil
			runner.failWith = tc.err
			res := e.as(e.alice, "POST", "/v1.0/calls", map[string]any{
				"source":       map[string]any{"type": "tel", "target": "+15551230001"},
				"destinations": []any{map[string]any{"type": "sip", "target": "sip:erin@127.0.0.1"}},
				"flow_id":      f.ID,
			})
			res.wantError(tc.status, tc.reason)
			if got := res.header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After of %s: %q, want %q", tc.reason, got, tc.retryAfter)
			}
		}
		runner.failWith = nil
		e.as(e.alice, "GET", "/v1.0/calls?page_size=10", nil).wantStatus(http.StatusOK).decode(&calls)
		if len(calls.Result) != 4 {
			t.Errorf("calls: %+v, want 4", calls.Result)
		}
		e.as(e.bob, "GET", "/v1.0/calls", nil).wantStatus(http.StatusOK).decode(&calls)
		if len(calls.Result) != 0 {
			t.Errorf("bob lists %d calls", len(calls.Result))
		}
	})
}

// TestActiveflowOfACallOverTheAPI: a runner driving flowbin over HTTP (sip.HTTPFlows) starts a call's activeflow
// with reference_type call and the call's id, and ends it "hangup" when the call hangs up first, as flowbin's own
// runner does in process. The fields are checked; an activeflow without them is the API's, stopped "stopped".
func TestActiveflowOfACallOverTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		t.Parallel()
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"ivr","actions":[{"type":"answer"},{"type":"talk","option":{"text":"hello"}}]}`)
		callID := "0193a4b2-1111-7d3a-9f00-3b1c2d4e5f70"
		a := e.as(e.alice, "POST", "/v1.0/activeflows", map[string]any{"flow_id": f.ID, "reference_type": "call", "reference_id": callID}).
			wantStatus(http.StatusOK).object()
		wantFields(t, "a call's activeflow", a, map[string]any{"reference_type": "call", "reference_id": callID})
		if v := a["variables"].(map[string]any); v["voipbin.activeflow.reference_type"] != "call" || v["voipbin.activeflow.reference_id"] != callID {
			t.Errorf("variables of a call's activeflow: %v", v)
		}
		id := a["id"].(string)
		// The caller hangs up: the runner stops it with reason hangup.
		stopped := e.as(e.alice, "POST", "/v1.0/activeflows/"+id+"/stop", map[string]any{"reason": "hangup"}).wantStatus(http.StatusOK).object()
		wantFields(t, "stopped for a hangup", stopped, map[string]any{"status": "ended", "end_reason": "hangup"})
		// Stopping it again changes nothing, whatever the reason.
		again := e.as(e.alice, "POST", "/v1.0/activeflows/"+id+"/stop", nil).wantStatus(http.StatusOK).object()
		wantFields(t, "stopped again", again, map[string]any{"end_reason": "hangup"})

		// Without a body, or with reason stopped: stopped, and the reference is the API's.
		for _, body := range []any{nil, map[string]any{"reason": "stopped"}} {
			plain := e.startActiveflow(e.alice, map[string]any{"flow_id": f.ID})
			got := e.as(e.alice, "POST", "/v1.0/activeflows/"+plain.ID+"/stop", body).wantStatus(http.StatusOK).object()
			wantFields(t, "stopped through the API", got, map[string]any{"end_reason": "stopped", "reference_type": "api"})
		}

		// Bad input: a clear 400 with a pointer.
		for _, tc := range []struct {
			body    map[string]any
			pointer string
		}{
			{map[string]any{"flow_id": f.ID, "reference_type": "call"}, "/reference_id"},
			{map[string]any{"flow_id": f.ID, "reference_id": callID}, "/reference_id"},
			{map[string]any{"flow_id": f.ID, "reference_type": "api", "reference_id": callID}, "/reference_id"},
			{map[string]any{"flow_id": f.ID, "reference_type": "campaign", "reference_id": callID}, "/reference_type"},
			{map[string]any{"flow_id": f.ID, "reference_type": "call", "reference_id": "not-a-uuid"}, "/reference_id"},
		} {
			eb := e.as(e.alice, "POST", "/v1.0/activeflows", tc.body).wantStatus(http.StatusBadRequest)
			var env struct{ Error errorBody }
			eb.decode(&env)
			found := false
			for _, d := range env.Error.Details {
				found = found || d.Pointer == tc.pointer
			}
			if !found {
				t.Errorf("%v: no problem at %s: %s", tc.body, tc.pointer, eb.body)
			}
		}
		plain := e.startActiveflow(e.alice, map[string]any{"flow_id": f.ID})
		e.as(e.alice, "POST", "/v1.0/activeflows/"+plain.ID+"/stop", map[string]any{"reason": "finished"}).wantStatus(http.StatusBadRequest)
	})
}
