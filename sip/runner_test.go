package sip_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emiago/diago"
	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store/storetest"
)

// ivr is the menu of the tests: a prompt, one key, a branch to "two" or to the default, a prompt, hang up.
func ivr() []map[string]any {
	return []map[string]any{
		{"type": "answer"},
		{"type": "talk", "option": map[string]any{"text": "Press two for sales.", "language": "en-US"}},
		{"type": "digits_receive", "option": map[string]any{"length": 1, "duration": 5000}},
		{"type": "branch", "option": map[string]any{"target_ids": map[string]string{"2": "two"}, "default_target_id": "other"}},
		{"id": "other", "type": "talk", "option": map[string]any{"text": "No key."}},
		{"type": "hangup"},
		{"id": "two", "type": "talk", "option": map[string]any{"text": "Sales."}},
		{"type": "hangup"},
	}
}

// sendDigitRTP presses a key as SIPp's captures do: RFC 4733 packets whose first has duration 0, then growing
// durations, then the end packet three times, all with one timestamp.
func sendDigitRTP(med *diago.DialogMedia, key byte) {
	ev := byte(strings.IndexByte("0123456789*#", key))
	w := med.RTPPacketWriter
	for i, dur := range []uint16{0, 160, 320, 480, 480, 480} {
		p := []byte{ev, 10, 0, 0}
		if i >= 3 {
			p[1] |= 0x80
		}
		binary.BigEndian.PutUint16(p[2:], dur)
		_, _ = w.WriteSamples(p, 0, i == 0, 101)
		time.Sleep(20 * time.Millisecond)
	}
	w.DelayTimestamp(480)
}

func TestIVRBranchesOnRFC4733Digit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		h := newHarness(t, b)
		h.flowFor("+15550001000", ivr()...)
		d, med := h.phone.call(h, "+15550001000")
		got := listen(med)
		<-got.first // the prompt plays: the key is pressed during it, and kept
		sendDigitRTP(med, '2')
		callID := h.ledger.waitCall(t, 1)
		af := h.ended(callID)
		if want := "answer,talk,digits_receive,branch,talk,hangup"; af.types() != want {
			t.Fatalf("trace: got %s, want %s", af.types(), want)
		}
		if af.EndReason != "hangup" {
			t.Fatalf("end_reason: got %q, want hangup", af.EndReason)
		}
		if got := string(af.ExecutedActions[4].Option); !strings.Contains(got, "Sales.") {
			t.Fatalf("the branch took the wrong prompt: %s", got)
		}
		if got := af.Variables["voipbin.call.source.type"]; got == "" {
			t.Fatalf("voipbin.call.source.type not reported: %v", af.Variables)
		}
		if af.Variables["voipbin.call.destination.target"] != "+15550001000" || af.Variables["voipbin.call.direction"] != "incoming" {
			t.Fatalf("call variables: %v", af.Variables)
		}
		c := h.hungUp(callID)
		if c.HangupBy != sip.HangupByLocal || c.HangupReason != sip.HangupReasonNormal {
			t.Fatalf("hangup: got %s/%s, want local/normal", c.HangupBy, c.HangupReason)
		}
		if c.ActiveflowID != af.ID || c.Direction != sip.DirectionIncoming {
			t.Fatalf("call record: %+v", c)
		}
		want := "call_created ringing,call_progressing,call_hangup"
		if got := strings.Join(h.ledger.events(callID), ","); got != want {
			t.Fatalf("events: got %s, want %s", got, want)
		}
		select {
		case <-d.Context().Done(): // the runner's BYE reached the phone
		case <-time.After(5 * time.Second):
			t.Fatal("the phone's call did not end")
		}
	})
}

// TestIVROverTCP: a call whose SIP comes over TCP (the runner listens on both) is answered and runs its IVR:
// the prompt, the key, the branch, and the runner's BYE back over the caller's connection.
func TestIVROverTCP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite)
	h.flowFor("+15550001100", ivr()...)
	p := newPhoneOn(t, "tcp")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := h.runner.Addr()
	d, med, err := p.dg.Invite(ctx, sipgosip.Uri{Scheme: "sip", User: "+15550001100", Host: a.Addr().String(), Port: int(a.Port())},
		diago.InviteOptions{Transport: "tcp"})
	if err != nil {
		t.Fatalf("call over TCP: %v", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = d.Hangup(ctx)
	}()
	if tr := d.InviteRequest.Transport(); !strings.EqualFold(tr, "tcp") {
		t.Fatalf("the INVITE went over %s, not TCP", tr)
	}
	got := listen(med)
	<-got.first
	sendDigitRTP(med, '2')
	callID := h.ledger.waitCall(t, 1)
	af := h.ended(callID)
	if want := "answer,talk,digits_receive,branch,talk,hangup"; af.types() != want {
		t.Fatalf("trace: got %s, want %s", af.types(), want)
	}
	if got := string(af.ExecutedActions[4].Option); !strings.Contains(got, "Sales.") {
		t.Fatalf("the branch took the wrong prompt: %s", got)
	}
	if c := h.hungUp(callID); c.HangupBy != sip.HangupByLocal {
		t.Fatalf("hangup: %+v", c)
	}
	select {
	case <-d.Context().Done(): // the runner's BYE reached the phone over TCP
	case <-time.After(5 * time.Second):
		t.Fatal("the phone's call did not end")
	}
}

func TestIVRBranchesOnSIPInfoDigit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite)
	h.flowFor("+15550001001", ivr()...)
	d, med := h.phone.call(h, "+15550001001")
	got := listen(med)
	<-got.first
	for _, ct := range []string{"application/dtmf-relay"} {
		req := sipgosip.NewRequest(sipgosip.INFO, d.InviteRequest.Recipient)
		req.AppendHeader(sipgosip.NewHeader("Content-Type", ct))
		req.SetBody([]byte("Signal=2\r\nDuration=160\r\n"))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := d.Do(ctx, req)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			t.Fatalf("INFO answered %d, want 200", res.StatusCode)
		}
	}
	af := h.ended(h.ledger.waitCall(t, 1))
	if want := "answer,talk,digits_receive,branch,talk,hangup"; af.types() != want {
		t.Fatalf("trace: got %s, want %s", af.types(), want)
	}
	if !strings.Contains(string(af.ExecutedActions[4].Option), "Sales.") {
		t.Fatalf("the branch took the wrong prompt: %s", af.ExecutedActions[4].Option)
	}
}

func TestForeignRTPIsIgnored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite)
	h.flowFor("+15550001002", ivr()...)
	_, med := h.phone.call(h, "+15550001002")
	got := listen(med)
	<-got.first
	// A key pressed from another address than the call's peer, to the runner's RTP port.
	raddr := med.MediaSession().Raddr
	conn, err := net.DialUDP("udp", nil, &raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 6 {
		pkt := make([]byte, 16)
		pkt[0] = 0x80
		pkt[1] = 101
		binary.BigEndian.PutUint16(pkt[2:], uint16(1000+i))
		binary.BigEndian.PutUint32(pkt[4:], 123456)
		binary.BigEndian.PutUint32(pkt[8:], 0xdeadbeef)
		copy(pkt[12:], []byte{2, 10, 0, byte(i * 160)})
		_, _ = conn.Write(pkt)
	}
	af := h.ended(h.ledger.waitCall(t, 1))
	if len(af.ExecutedActions) < 5 || !strings.Contains(string(af.ExecutedActions[4].Option), "No key.") {
		t.Fatalf("a key from a foreign address was taken: %s", af.types())
	}
}

func TestCallerHangsUpMidTalk(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		h := newHarness(t, b)
		h.flowFor("+15550001003",
			map[string]any{"type": "answer"},
			map[string]any{"type": "talk", "option": map[string]any{"text": strings.Repeat("A very long prompt. ", 40)}},
			map[string]any{"type": "hangup"},
		)
		d, med := h.phone.call(h, "+15550001003")
		got := listen(med)
		<-got.first
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := d.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		callID := h.ledger.waitCall(t, 1)
		af := h.ended(callID)
		if af.types() != "answer,talk" {
			t.Fatalf("trace: got %s, want answer,talk", af.types())
		}
		// Over HTTP as in process: the activeflow ends hangup and names its call.
		if af.EndReason != "hangup" || af.ReferenceType != "call" || af.ReferenceID != callID {
			t.Fatalf("activeflow: end_reason %q, reference %q %s; want hangup, call %s", af.EndReason, af.ReferenceType, af.ReferenceID, callID)
		}
		c := h.hungUp(callID)
		if c.HangupBy != sip.HangupByRemote {
			t.Fatalf("hangup_by: got %q, want remote", c.HangupBy)
		}
		if h.runner.Active() != 0 {
			waitFor(t, 5*time.Second, "no call left", func() bool { return h.runner.Active() == 0 })
		}
	})
}

func TestUnsupportedActionIsSkippedWithItsReason(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite)
	h.flowFor("+15550001004",
		map[string]any{"type": "answer"},
		map[string]any{"type": "queue_join", "option": map[string]any{"queue_id": uuid.NewString()}},
		map[string]any{"type": "condition_variable", "option": map[string]any{"condition": "!=", "variable": "flowbin.call.result", "value_string": ""}, "false_target_id": "x"},
		map[string]any{"type": "variable_set", "option": map[string]any{"key": "seen", "value": "${flowbin.call.result}"}},
		map[string]any{"id": "x", "type": "hangup"},
	)
	h.phone.call(h, "+15550001004")
	af := h.ended(h.ledger.waitCall(t, 1))
	if want := "answer,queue_join,condition_variable,variable_set,hangup"; af.types() != want {
		t.Fatalf("trace: got %s, want %s", af.types(), want)
	}
	if !strings.HasPrefix(af.Variables["seen"], "skipped: queue_join") {
		t.Fatalf("the skip's reason: %q", af.Variables["seen"])
	}
	if af.EndReason != "hangup" {
		t.Fatalf("end_reason: got %q", af.EndReason)
	}
}

func TestRecordingHoldsCallersAudio(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite)
	h.flowFor("+15550001005",
		map[string]any{"type": "answer"},
		map[string]any{"type": "recording_start"},
		map[string]any{"type": "digits_receive", "option": map[string]any{"key": "#", "duration": 10000}},
		map[string]any{"type": "recording_stop"},
		map[string]any{"type": "hangup"},
	)
	_, med := h.phone.call(h, "+15550001005")
	callID := h.ledger.waitCall(t, 1)
	waitFor(t, 10*time.Second, "the recording to start", func() bool {
		return strings.Contains(strings.Join(h.ledger.events(callID), ","), "recording_started")
	})
	// 600 ms of a loud 1 kHz tone, then #.
	tone := make([]byte, 160)
	for i := range tone {
		tone[i] = []byte{0xff, 0x8f, 0x80, 0x8f, 0xff, 0x0f, 0x00, 0x0f}[i%8]
	}
	for range 30 {
		if _, err := med.RTPPacketWriter.Write(tone); err != nil {
			t.Fatal(err)
		}
	}
	sendDigitRTP(med, '#')
	af := h.ended(callID)
	if want := "answer,recording_start,digits_receive,recording_stop,hangup"; af.types() != want {
		t.Fatalf("trace: got %s, want %s", af.types(), want)
	}
	c := h.hungUp(callID)
	if len(c.RecordingIDs) != 1 {
		t.Fatalf("recording ids: %v", c.RecordingIDs)
	}
	h.ledger.mu.Lock()
	rec := h.ledger.recordings[c.RecordingIDs[0]]
	h.ledger.mu.Unlock()
	if rec.Status != "ended" || rec.Path == "" {
		t.Fatalf("recording: %+v", rec)
	}
	pcm := readWAV(t, rec.Path)
	loud := 0
	for _, s := range pcm {
		if s > 4000 || s < -4000 {
			loud++
		}
	}
	if loud < 8*200 { // at least a fair part of the tone's 600 ms is in the file
		t.Fatalf("the recording holds %d loud samples of %d", loud, len(pcm))
	}
	want := "call_created ringing,call_progressing,recording_started,recording_finished,call_hangup"
	if got := strings.Join(h.ledger.events(callID), ","); got != want {
		t.Fatalf("events: got %s, want %s", got, want)
	}
}

func TestOutboundCallRunsItsActions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite)
	calls, err := h.runner.Dial(context.Background(), sip.DialRequest{
		CustomerID:   h.customerID,
		Source:       sip.Address{Type: "tel", Target: "+15550002000"},
		Destinations: []sip.Address{{Type: "sip", Target: "sip:bob@127.0.0.1:" + itoa(h.phone.port)}},
		Actions: mustActions(t, h,
			map[string]any{"type": "talk", "option": map[string]any{"text": "Your parcel has arrived."}},
			map[string]any{"type": "digits_send", "option": map[string]any{"digits": "1"}},
			map[string]any{"type": "hangup"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Status != sip.StatusDialing || calls[0].Direction != sip.DirectionOutgoing {
		t.Fatalf("calls: %+v", calls)
	}
	var pc *phoneCall
	select {
	case pc = <-h.phone.answered:
	case <-time.After(10 * time.Second):
		t.Fatal("the phone was not called")
	}
	af := h.ended(calls[0].ID)
	if af.types() != "talk,digits_send,hangup" || af.EndReason != "hangup" {
		t.Fatalf("trace: %s, %s", af.types(), af.EndReason)
	}
	if pc.got.count() < 20 {
		t.Fatalf("the phone heard %d packets", pc.got.count())
	}
	h.hungUp(calls[0].ID)
	want := "call_created dialing,call_ringing,call_progressing,call_hangup"
	if got := strings.Join(h.ledger.events(calls[0].ID), ","); got != want {
		t.Fatalf("events: got %s, want %s", got, want)
	}
}

func TestOutboundCallNotAnswered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite, func(c *sip.Config) { c.RingTimeout = time.Second })
	// Nobody listens at this address: the INVITE times out, or is refused.
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	calls, err := h.runner.Dial(context.Background(), sip.DialRequest{
		CustomerID:   h.customerID,
		Destinations: []sip.Address{{Type: "sip", Target: "sip:nobody@127.0.0.1:" + itoa(port)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := h.hungUp(calls[0].ID)
	if c.HangupReason != sip.HangupReasonNoanswer || c.ActiveflowID != uuid.Nil {
		t.Fatalf("an unanswered call: %+v", c)
	}
	if _, err := h.runner.Dial(context.Background(), sip.DialRequest{CustomerID: h.customerID,
		Destinations: []sip.Address{{Type: "tel", Target: "+15550003000"}}}); err == nil {
		t.Fatal("a tel destination without a trunk was dialled")
	}
}

func mustActions(t *testing.T, h *harness, actions ...map[string]any) []flowAction {
	t.Helper()
	out := make([]flowAction, len(actions))
	for i, a := range actions {
		out[i] = toAction(t, a)
	}
	return out
}

func TestInvitesThatCannotBeServed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite, func(c *sip.Config) { c.MaxCallsPerCustomer = 1; c.Metrics = sip.NewMetrics(nil) })
	h.flowFor("+15550004000",
		map[string]any{"type": "answer"},
		map[string]any{"type": "sleep", "option": map[string]any{"duration": 20000}})
	h.dir.mu.Lock()
	h.dir.noFlow = map[string]bool{"+15550004001": true}
	h.dir.mu.Unlock()
	a := h.runner.Addr()
	pcmu := sdpOffer("0 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
	cases := []struct {
		name, user, sdp string
		want            int
	}{
		{"unknown number", "+15550009999", pcmu, 404},
		{"number without a flow", "+15550004001", pcmu, 480},
		{"no common codec", "+15550004000", sdpOffer("18", "a=rtpmap:18 G729/8000\r\n"), 488},
		{"malformed SDP", "+15550004000", "v=0\r\nthis is not sdp\r\n", 400},
		{"no SDP", "+15550004000", "", 488},
		{"no Contact", "+15550004000" + noContact, pcmu, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawInvite(t, a.String(), tc.user, tc.sdp); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
	// Garbage is dropped, and the runner still serves calls.
	conn, _ := net.Dial("udp", a.String())
	_, _ = conn.Write([]byte("INVITE \x00\x01 garbage\r\n\r\n"))
	conn.Close()
	// The customer's second call is refused while the first is in progress: 486 Busy Here, no Retry-After; an
	// outbound call of the customer too.
	h.phone.call(h, "+15550004000")
	if got, retry := rawInviteHeader(t, a.String(), "+15550004000", pcmu, "Retry-After"); got != 486 || retry != "" {
		t.Fatalf("over the customer's limit: got %d (Retry-After %q), want 486 without", got, retry)
	}
	_, err := h.runner.Dial(context.Background(), sip.DialRequest{CustomerID: h.customerID,
		Destinations: []sip.Address{{Type: "sip", Target: "sip:bob@127.0.0.1:" + itoa(h.phone.port)}}})
	if !errors.Is(err, sip.ErrCustomerFull) {
		t.Fatalf("an outbound call over the customer's limit: %v, want ErrCustomerFull", err)
	}
	for code, reasons := range map[string][]string{"404": {"unknown_number"}, "480": {"no_flow"},
		"488": {"no_codec"}, "400": {"bad_request"}, "486": {"customer_full"}} {
		for _, reason := range reasons {
			if got := counter(t, h.cfg.Metrics.Rejected.WithLabelValues(code, reason)); got < 1 {
				t.Errorf("flowbin_sip_invites_rejected_total{code=%q,reason=%q}: %v", code, reason, got)
			}
		}
	}
	if got := counter(t, h.cfg.Metrics.DialsRefused.WithLabelValues("customer_full")); got != 1 {
		t.Errorf("flowbin_sip_dials_refused_total{reason=customer_full}: %v", got)
	}
}

// counter reads a counter's value.
func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestShutdownHangsUpCalls(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite)
	h.flowFor("+15550005000",
		map[string]any{"type": "answer"},
		map[string]any{"type": "echo", "option": map[string]any{"duration": 60000}})
	d, _ := h.phone.call(h, "+15550005000")
	callID := h.ledger.waitCall(t, 1)
	waitFor(t, 5*time.Second, "the call answered", func() bool {
		c, _ := h.ledger.call(callID)
		return c.Status == sip.StatusProgressing
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := h.runner.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := h.ledger.call(callID)
	if c.Status != sip.StatusHangup || c.HangupBy != sip.HangupByLocal {
		t.Fatalf("after shutdown: %+v", c)
	}
	af := h.ended(callID)
	if af.EndReason != "hangup" {
		t.Fatalf("end_reason: %q", af.EndReason)
	}
	select {
	case <-d.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the phone's call did not end")
	}
	if got := rawInvite(t, h.runner.Addr().String(), "+15550005000", sdpOffer("0", "")); got != 503 && got != 0 {
		t.Fatalf("after shutdown: got %d, want 503 or no answer", got)
	}
}

var _ = http.StatusOK

func TestInstanceLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite, func(c *sip.Config) { c.MaxCalls = 1; c.Metrics = sip.NewMetrics(nil) })
	h.flowFor("+15550012000",
		map[string]any{"type": "answer"},
		map[string]any{"type": "sleep", "option": map[string]any{"duration": 20000}})
	h.phone.call(h, "+15550012000")
	// 503 with Retry-After: a proxy tries another instance, and leaves this one out for a while.
	if got, retry := rawInviteHeader(t, h.runner.Addr().String(), "+15550012000", sdpOffer("0", ""), "Retry-After"); got != 503 || retry != "5" {
		t.Fatalf("over the instance's limit: got %d (Retry-After %q), want 503 with 5", got, retry)
	}
	if _, err := h.runner.Dial(context.Background(), sip.DialRequest{CustomerID: h.customerID,
		Destinations: []sip.Address{{Type: "sip", Target: "sip:bob@127.0.0.1:" + itoa(h.phone.port)}}}); !errors.Is(err, sip.ErrInstanceFull) {
		t.Fatalf("an outbound call over the instance's limit: %v, want ErrInstanceFull", err)
	}
	if got := counter(t, h.cfg.Metrics.Rejected.WithLabelValues("503", "instance_full")); got != 1 {
		t.Errorf("flowbin_sip_invites_rejected_total{code=503,reason=instance_full}: %v", got)
	}
	if got := counter(t, h.cfg.Metrics.DialsRefused.WithLabelValues("instance_full")); got != 1 {
		t.Errorf("flowbin_sip_dials_refused_total{reason=instance_full}: %v", got)
	}
}

// TestRefusalsWhileShuttingDown: a draining runner answers new INVITEs 503 with a long Retry-After (a proxy
// fails over and leaves it out) and refuses outbound calls with ErrShuttingDown, while its call goes on.
func TestRefusalsWhileShuttingDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite, func(c *sip.Config) { c.Metrics = sip.NewMetrics(nil) })
	h.flowFor("+15550014000",
		map[string]any{"type": "answer"},
		map[string]any{"type": "sleep", "option": map[string]any{"duration": 20000}})
	d, _ := h.phone.call(h, "+15550014000")
	callID := h.ledger.waitCall(t, 1)
	waitFor(t, 5*time.Second, "the call answered", func() bool {
		c, _ := h.ledger.call(callID)
		return c.Status == sip.StatusProgressing
	})
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		drained <- h.runner.Shutdown(ctx)
	}()
	var (
		code  int
		retry string
	)
	waitFor(t, 5*time.Second, "the runner draining", func() bool {
		code, retry = rawInviteHeader(t, h.runner.Addr().String(), "+15550014000", sdpOffer("0", ""), "Retry-After")
		return code == 503
	})
	if retry != "60" {
		t.Errorf("Retry-After while shutting down: %q, want 60", retry)
	}
	if _, err := h.runner.Dial(context.Background(), sip.DialRequest{CustomerID: h.customerID,
		Destinations: []sip.Address{{Type: "sip", Target: "sip:bob@127.0.0.1:" + itoa(h.phone.port)}}}); !errors.Is(err, sip.ErrShuttingDown) {
		t.Fatalf("an outbound call while shutting down: %v, want ErrShuttingDown", err)
	}
	if c, _ := h.ledger.call(callID); c.Status != sip.StatusProgressing {
		t.Fatalf("the call in progress while draining: %+v", c)
	}
	if got := counter(t, h.cfg.Metrics.Rejected.WithLabelValues("503", "shutting_down")); got < 1 {
		t.Errorf("flowbin_sip_invites_rejected_total{code=503,reason=shutting_down}: %v", got)
	}
	// The caller hangs up: the drain ends.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.Hangup(ctx)
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("the drain did not end with the last call")
	}
}

func TestCallerCancelsWhileRinging(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite)
	h.flowFor("+15550013000",
		map[string]any{"type": "sleep", "option": map[string]any{"duration": 20000}},
		map[string]any{"type": "answer"})
	ctx, cancel := context.WithCancel(context.Background())
	a := h.runner.Addr()
	errc := make(chan error, 1)
	go func() {
		_, _, err := h.phone.dg.Invite(ctx, sipgosip.Uri{Scheme: "sip", User: "+15550013000", Host: a.Addr().String(), Port: int(a.Port())}, diago.InviteOptions{})
		errc <- err
	}()
	callID := h.ledger.waitCall(t, 1)
	waitFor(t, 10*time.Second, "the flow to start while the call rings", func() bool {
		c, _ := h.ledger.call(callID)
		return c.ActiveflowID != uuid.Nil
	})
	cancel() // the caller gives up: CANCEL
	if err := <-errc; err == nil {
		t.Fatal("a cancelled call was answered")
	}
	c := h.hungUp(callID)
	if c.HangupBy != sip.HangupByRemote || c.HangupReason != sip.HangupReasonCancel || !c.TmProgressing.IsZero() {
		t.Fatalf("a call cancelled while ringing: %+v", c)
	}
	af := h.ended(callID)
	if af.types() != "sleep" || af.EndReason != "hangup" {
		t.Fatalf("trace: %s %s", af.types(), af.EndReason)
	}
}
