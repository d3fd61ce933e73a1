package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo"
	sipgosip "github.com/emiago/sipgo/sip"

	"github.com/flowbin/flowbin/store/storetest"
)

var sipListening = regexp.MustCompile(`msg="sip listening" .*addr=(\S+)`)

// TestCallANumber: flowbin serve with SIP on both databases; a diago caller in the test process calls a
// customer's number; the number's flow runs on the call (answer, sleep, hangup), and the call, its activeflow and
// its events to the customer's webhook come out as VoIPbin's. SIGINT then drains the runner cleanly.
func TestCallANumber(t *testing.T) {
	// Not in parallel: sip.New sets the SIP stack's process-wide loggers, which a caller of another subtest reads.
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		hooks := &hookReceiver{}
		receiver := httptest.NewServer(hooks)
		t.Cleanup(receiver.Close)
		env := map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "s3cret-pass",
			"FLOWBIN_SIP_ADDR": "127.0.0.1:0", "FLOWBIN_OUTBOUND_ALLOW": "127.0.0.1/32"}
		if b == storetest.Postgres {
			env["FLOWBIN_DATABASE_URL"] = storetest.NewPostgresDatabase(t)
		}
		s := start(t, env)
		addr := waitSIP(t, s)
		token := login(t, s.url, "admin", "s3cret-pass")
		auth := []string{"Authorization", "Bearer " + token}

		if status, body := call(t, "PUT", s.url+"/v1.0/customer", `{"webhook_uri":"`+receiver.URL+`/hooks","webhook_method":"POST"}`, auth...); status != http.StatusOK {
			t.Fatalf("customer webhook: %d %s", status, body)
		}
		var f struct{ ID string }
		mustCall(t, http.StatusOK, &f, "POST", s.url+"/v1.0/flows",
			`{"name":"ivr","actions":[{"type":"answer"},{"type":"recording_start"},{"type":"sleep","option":{"duration":300}},{"type":"recording_stop"},{"type":"hangup"}]}`, auth...)
		mustCall(t, http.StatusOK, nil, "POST", s.url+"/v1.0/numbers", `{"number":"+15551230001","call_flow_id":"`+f.ID+`"}`, auth...)

		ua, err := sipgo.NewUA(sipgo.WithUserAgent("caller"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ua.Close() })
		dg := diago.NewDiago(ua, diago.WithLogger(slog.New(slog.DiscardHandler)),
			diago.WithTransport(diago.Transport{Transport: "udp", BindHost: "127.0.0.1", BindPort: freeUDPPort(t)}))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		d, _, err := dg.Invite(ctx, sipgosip.Uri{Scheme: "sip", User: "+15551230001", Host: addr.Addr().String(), Port: int(addr.Port())},
			diago.InviteOptions{})
		if err != nil {
			t.Fatalf("call the number: %v", err)
		}
		select {
		case <-d.Context().Done(): // the flow's hangup
		case <-ctx.Done():
			t.Fatal("the flow did not hang up")
		}

		var calls struct {
			Result []struct {
				ID, Status, Direction   string
				ActiveflowID            string `json:"activeflow_id"`
				FlowID                  string `json:"flow_id"`
				HangupBy                string `json:"hangup_by"`
				HangupReason            string `json:"hangup_reason"`
				TMProgressing, TMHangup string
				RecordingIDs            []string `json:"recording_ids"`
				Destination, Source     struct{ Type, Target string }
			}
		}
		waitUntil(t, func() bool {
			mustCall(t, http.StatusOK, &calls, "GET", s.url+"/v1.0/calls", "", auth...)
			return len(calls.Result) == 1 && calls.Result[0].Status == "hangup"
		})
		c := calls.Result[0]
		if c.Direction != "incoming" || c.FlowID != f.ID || c.HangupBy != "local" || c.HangupReason != "normal" ||
			c.Destination.Target != "+15551230001" || c.ActiveflowID == "" || c.ActiveflowID == "00000000-0000-0000-0000-000000000000" {
			t.Errorf("the call: %+v", c)
		}
		var af struct {
			Status          string
			EndReason       string `json:"end_reason"`
			Variables       map[string]string
			ExecutedActions []struct{ Type string } `json:"executed_actions"`
		}
		mustCall(t, http.StatusOK, &af, "GET", s.url+"/v1.0/activeflows/"+c.ActiveflowID, "", auth...)
		var ran []string
		for _, a := range af.ExecutedActions {
			ran = append(ran, a.Type)
		}
		if af.Status != "ended" || af.EndReason != "hangup" || !slices.Equal(ran, []string{"answer", "recording_start", "sleep", "recording_stop", "hangup"}) ||
			af.Variables["voipbin.activeflow.reference_type"] != "call" || af.Variables["voipbin.activeflow.reference_id"] != c.ID {
			t.Errorf("the call's activeflow: %+v", af)
		}
		waitUntil(t, func() bool {
			got := hooks.types()
			return slices.Contains(got, "call_created") && slices.Contains(got, "call_progressing") && slices.Contains(got, "call_hangup")
		})
		// The command line's view of it (the caller sent no audio: the recording is a WAV header alone).
		var out strings.Builder
		if err := run(context.Background(), []string{"calls", "-server", s.url, "-token", token}, getenv(map[string]string{}),
			strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatalf("flowbin calls: %v", err)
		}
		if !strings.Contains(out.String(), c.ID) || !strings.Contains(out.String(), "incoming") || !strings.Contains(out.String(), "local (normal)") {
			t.Errorf("flowbin calls:\n%s", out.String())
		}
		out.Reset()
		if err := run(context.Background(), []string{"calls", "hangup", "-server", s.url, "-token", token, c.ID}, getenv(map[string]string{}),
			strings.NewReader(""), &out, io.Discard); err != nil || out.String() != "call "+c.ID+": hangup\n" {
			t.Errorf("flowbin calls hangup of an ended call: %q %v", out.String(), err)
		}
		out.Reset()
		if err := run(context.Background(), []string{"recordings", "-server", s.url, "-token", token}, getenv(map[string]string{}),
			strings.NewReader(""), &out, io.Discard); err != nil || !strings.Contains(out.String(), c.ID) || !strings.Contains(out.String(), "ended") {
			t.Errorf("flowbin recordings: %q %v", out.String(), err)
		}
		if len(c.RecordingIDs) != 1 {
			t.Fatalf("the call's recordings: %v", c.RecordingIDs)
		}
		wav := filepath.Join(t.TempDir(), "call.wav")
		out.Reset()
		if err := run(context.Background(), []string{"recordings", "download", "-server", s.url, "-token", token, c.RecordingIDs[0], wav},
			getenv(map[string]string{}), strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatalf("flowbin recordings download: %v", err)
		}
		if b, err := os.ReadFile(wav); err != nil || len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
			t.Errorf("the recording's file: %d bytes, %v", len(b), err)
		}
		s.shutdown(t)
		if !regexp.MustCompile(`msg="shutting down: draining calls" calls=0`).MatchString(s.stderr.String()) {
			t.Errorf("the runner was not drained at shutdown:\n%s", s.stderr.String())
		}
	})
}

// hookReceiver is the customer's webhook: it keeps the events' types.
type hookReceiver struct {
	mu   sync.Mutex
	seen []string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev struct{ Type string }
	b, _ := io.ReadAll(r.Body)
	if json.Unmarshal(b, &ev) == nil {
		h.mu.Lock()
		h.seen = append(h.seen, ev.Type)
		h.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) types() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seen)
}

// waitSIP answers the address the program's SIP runner listens on, from its log.
func waitSIP(t *testing.T, s *started) netip.AddrPort {
	t.Helper()
	var addr netip.AddrPort
	waitUntil(t, func() bool {
		m := sipListening.FindStringSubmatch(s.stderr.String())
		if m == nil {
			return false
		}
		var err error
		addr, err = netip.ParseAddrPort(m[1])
		return err == nil
	})
	return addr
}

func mustCall(t *testing.T, want int, v any, method, url, body string, header ...string) {
	t.Helper()
	status, b := call(t, method, url, body, header...)
	if status != want {
		t.Fatalf("%s %s: %d %s", method, url, status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freeUDPPort is a UDP port free now (diago binds by number).
func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := (&net.ListenConfig{}).ListenPacket(context.Background(), "udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}
