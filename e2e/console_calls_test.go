package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emiago/diago"
	"github.com/emiago/sipgo"
	sipgosip "github.com/emiago/sipgo/sip"
)

var sipListening = regexp.MustCompile(`msg="sip listening" .*addr=(\S+)`)

// TestConsoleCalls: a call to a number, recorded, shows in the console: listed, its page with the call's facts,
// its activeflow drawn on the flow's graph, and its recording playable in the page.
func TestConsoleCalls(t *testing.T) {
	in := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "console-password",
		"FLOWBIN_SIP_ADDR": "127.0.0.1:0"})
	token, _ := credentials(t, in.url, "console-password")
	api := func(method, path, body string, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, in.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	var f struct{ ID string }
	api("POST", "/v1.0/flows", `{"name":"recorded line","actions":[{"type":"answer"},{"type":"recording_start"},
		{"type":"sleep","option":{"duration":800}},{"type":"recording_stop"},{"type":"hangup"}]}`, &f)
	api("POST", "/v1.0/numbers", `{"number":"+15551239999","call_flow_id":"`+f.ID+`"}`, nil)

	// The caller: a diago phone in the test process, saying a tone while the flow records.
	var addr netip.AddrPort
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := sipListening.FindStringSubmatch(in.stderr.String()); m != nil {
			addr = netip.MustParseAddrPort(m[1])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SIP listener in the log:\n%s", in.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("caller"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	dg := diago.NewDiago(ua, diago.WithLogger(slog.New(slog.DiscardHandler)),
		diago.WithTransport(diago.Transport{Transport: "udp", BindHost: "127.0.0.1", BindPort: port}))
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, med, err := dg.Invite(cctx, sipgosip.Uri{Scheme: "sip", User: "+15551239999", Host: addr.Addr().String(), Port: int(addr.Port())},
		diago.InviteOptions{})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	tone := make([]byte, 160)
	for i := range tone {
		tone[i] = []byte{0xff, 0x8f, 0x80, 0x8f, 0xff, 0x0f, 0x00, 0x0f}[i%8]
	}
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
sending:
	for {
		select {
		case <-d.Context().Done():
			break sending
		case <-cctx.Done():
			t.Fatal("the flow did not hang up")
		case <-ticker.C:
			_, _ = med.RTPPacketWriter.Write(tone)
		}
	}
	var call struct {
		ID           string
		Status       string
		RecordingIDs []string `json:"recording_ids"`
	}
	var calls struct{ Result []json.RawMessage }
	for deadline := time.Now().Add(20 * time.Second); ; {
		api("GET", "/v1.0/calls", "", &calls)
		if len(calls.Result) == 1 {
			_ = json.Unmarshal(calls.Result[0], &call)
			if call.Status == "hangup" && len(call.RecordingIDs) == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the call did not end with its recording: %+v", call)
		}
		time.Sleep(50 * time.Millisecond)
	}

	b := browser(t)
	messages := watchConsole(b)
	p := newPage(t, b, in.url)
	p.do("open the console", chromedp.Navigate(in.url+"/console#/calls"), chromedp.WaitVisible(chromedp.CSS(`form.login`)))
	p.do("log in",
		chromedp.SendKeys(chromedp.CSS(`#username`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "console-password"),
		chromedp.Click(chromedp.CSS(`form.login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a.call-link`)))
	if row := p.text(`table.calls tbody tr`); !strings.Contains(row, "incoming") || !strings.Contains(row, "+15551239999") ||
		!strings.Contains(row, "hangup") || !strings.Contains(row, "local (normal)") {
		t.Errorf("the call's row: %q", row)
	}
	p.do("the call's page", chromedp.Click(chromedp.CSS(`a.call-link`)), chromedp.WaitVisible(chromedp.CSS(`.call-activeflow .graph svg .node`)))
	if got := p.text(`.call-state`); got != "hangup" {
		t.Errorf("the call's state: %q", got)
	}
	visited := evalJS[int](p, `document.querySelectorAll('.call-activeflow .graph .node.visited').length`)
	trace := p.text(`.call-activeflow ol.trace`)
	if visited != 5 || !strings.Contains(trace, "recording_start") || !strings.Contains(trace, "hangup") {
		t.Errorf("the call's activeflow: %d visited nodes, trace %q", visited, trace)
	}
	p.do("play the recording", chromedp.Click(chromedp.CSS(`button.play`)))
	p.waitJS("the recording plays", `(a => a && a.src.startsWith('blob:') && a.readyState >= 1 && a.duration > 0.3)(document.querySelector('audio.recording-audio'))`)
	if strings.Contains(evalJS[string](p, `document.querySelector('audio.recording-audio').src`), token) {
		t.Error("the credential is in the audio's URL")
	}
	p.do("the recordings", chromedp.Navigate(in.url+"/console#/recordings"), chromedp.WaitVisible(chromedp.CSS(`table.recordings button.play`)))
	if errs := messages.errors(); len(errs) > 0 {
		t.Errorf("the console logged errors: %q", errs)
	}
}
