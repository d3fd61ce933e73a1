package sip_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store/storetest"
)

// The tests of this file call the runner from independent SIP peers (SIPp, baresip) and speak with espeak-ng.
// Without the programs they skip, except under CI=true, where they fail: make test-deps installs them.

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (CI=true, so this fails; make test-deps installs it)", tool)
			}
			t.Skipf("%s is not installed (make test-deps installs it)", tool)
		}
	}
}

// freeUDPPort answers a port no one listens on, for a peer's SIP or media.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// freeSIPPort answers a port whose UDP and TCP, and the next TCP port (TLS), are free: a SIP stack binds them all.
func freeSIPPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		p := freeUDPPort(t)
		l1, err := net.Listen("tcp", "127.0.0.1:"+itoa(p))
		if err != nil {
			continue
		}
		l2, err := net.Listen("tcp", "127.0.0.1:"+itoa(p+1))
		l1.Close()
		if err != nil {
			continue
		}
		l2.Close()
		return p
	}
	t.Fatal("no free SIP port")
	return 0
}

// espeakHarness is a harness whose talk speaks with espeak-ng, as in production.
func espeakHarness(t *testing.T) *harness {
	return newHarness(t, storetest.SQLite, func(c *sip.Config) { c.Speaker = sip.Espeak{} })
}

const pressRFC4733 = `  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_2.pcap"/></action></nop>
  <pause milliseconds="400"/>`

const pressINFO = `  <send>
    <![CDATA[
      INFO sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 INFO
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=2
      Duration=160
    ]]>
  </send>
  <recv response="200"/>`

// runSIPp runs one call of the IVR scenario against the runner and fails the test when SIPp reports a failure.
func runSIPp(t *testing.T, h *harness, number, press string) {
	t.Helper()
	runSIPpCodec(t, h, number, press, "0", "PCMU")
}

func runSIPpCodec(t *testing.T, h *harness, number, press, pt, codec string) {
	t.Helper()
	runSIPpWith(t, h, number, press, pt, codec, "udp")
}

// runSIPpWith runs the IVR scenario with SIP over network: "udp", or "tcp" (SIPp's -t t1, one connection).
func runSIPpWith(t *testing.T, h *harness, number, press, pt, codec, network string) {
	t.Helper()
	tmpl := template.Must(template.ParseFiles("testdata/sipp_ivr.xml.tmpl"))
	var b bytes.Buffer
	contact, transport, port := "", "u1", freeUDPPort(t)
	if network == "tcp" {
		// In-dialog requests of the runner (its BYE) go over TCP too.
		contact, transport, port = ";transport=tcp", "t1", freeSIPPort(t)
	}
	if err := tmpl.Execute(&b, map[string]string{"Press": press, "PT": pt, "Codec": codec, "ContactParams": contact}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	scenario := filepath.Join(dir, "ivr.xml")
	if err := os.WriteFile(scenario, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := h.runner.Addr()
	cmd := exec.CommandContext(ctx, "sipp", "-sf", scenario, "-m", "1", "-l", "1", "-nostdin", "-t", transport,
		"-i", "127.0.0.1", "-p", itoa(port), "-mp", itoa(freeUDPPort(t)),
		"-s", number, "-timeout", "25s", "-timeout_error", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		a.String())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Fatalf("sipp: %v\n%s\n%s", err, lastLines(string(out), 20), errs)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestSIPpIVRBranchesOnRFC4733Digit(t *testing.T) {
	t.Parallel()
	needTools(t, "sipp", "espeak-ng")
	h := espeakHarness(t)
	h.flowFor("+15550006000", ivr()...)
	runSIPp(t, h, "+15550006000", pressRFC4733)
	af := h.ended(h.ledger.waitCall(t, 1))
	if want := "answer,talk,digits_receive,branch,talk,hangup"; af.types() != want {
		t.Fatalf("trace: got %s, want %s", af.types(), want)
	}
	if !strings.Contains(string(af.ExecutedActions[4].Option), "Sales.") {
		t.Fatalf("the branch took the wrong prompt: %s", af.ExecutedActions[4].Option)
	}
}

// TestSIPpIVROverTCP: SIPp calls over TCP (-t t1): the runner answers on the connection, the key (RFC 4733, over
// RTP) takes the branch, and the runner's BYE reaches SIPp on its connection (the scenario waits for it).
func TestSIPpIVROverTCP(t *testing.T) {
	t.Parallel()
	needTools(t, "sipp", "espeak-ng")
	h := espeakHarness(t)
	h.flowFor("+15550006100", ivr()...)
	runSIPpWith(t, h, "+15550006100", pressRFC4733, "0", "PCMU", "tcp")
	af := h.ended(h.ledger.waitCall(t, 1))
	if want := "answer,talk,digits_receive,branch,talk,hangup"; af.types() != want {
		t.Fatalf("trace: got %s, want %s", af.types(), want)
	}
	if !strings.Contains(string(af.ExecutedActions[4].Option), "Sales.") {
		t.Fatalf("the branch took the wrong prompt: %s", af.ExecutedActions[4].Option)
	}
}

func TestSIPpIVRBranchesOnSIPInfoDigit(t *testing.T) {
	t.Parallel()
	needTools(t, "sipp", "espeak-ng")
	h := espeakHarness(t)
	h.flowFor("+15550006001", ivr()...)
	runSIPp(t, h, "+15550006001", pressINFO)
	af := h.ended(h.ledger.waitCall(t, 1))
	if want := "answer,talk,digits_receive,branch,talk,hangup"; af.types() != want {
		t.Fatalf("trace: got %s, want %s", af.types(), want)
	}
	if !strings.Contains(string(af.ExecutedActions[4].Option), "Sales.") {
		t.Fatalf("the branch took the wrong prompt: %s", af.ExecutedActions[4].Option)
	}
}

// baresip runs the baresip softphone (a config of its own, loopback only) that dials uri, records what it hears
// with its sndfile module, and quits after secs; it answers the files it wrote.
func baresip(t *testing.T, uri string, secs int) (decoded string) {
	t.Helper()
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	if err := os.MkdirAll(rec, 0o700); err != nil {
		t.Fatal(err)
	}
	rtp := freeUDPPort(t) &^ 1
	config := strings.Join([]string{
		"poll_method epoll",
		"sip_listen 127.0.0.1:" + itoa(freeSIPPort(t)),
		"module_path /usr/lib/baresip/modules",
		"module g711.so", "module aubridge.so", "module sndfile.so",
		"module_app account.so", "module_app menu.so",
		"audio_player aubridge,flowbin", "audio_source aubridge,flowbin", "audio_alert aubridge,flowbin",
		"snd_path " + rec,
		"rtp_ports " + itoa(rtp) + "-" + itoa(rtp+3),
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte("<sip:baresip@127.0.0.1>;regint=0;audio_codecs=PCMU\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+10)*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "baresip", "-f", dir, "-n", "127.0.0.1", "-t", itoa(secs), "-e", "/dial "+uri)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// baresip closes its recording when the call ends: the file is whole once its header counts its data.
	var file string
	deadline := time.After(time.Duration(secs) * time.Second)
	for file == "" {
		select {
		case err := <-exited:
			t.Fatalf("baresip exited before its recording was complete: %v\n%s", err, lastLines(out.String(), 30))
		case <-deadline:
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("baresip recorded nothing whole within %ds\n%s", secs, lastLines(out.String(), 30))
		case <-time.After(50 * time.Millisecond):
		}
		files, _ := filepath.Glob(filepath.Join(rec, "*dec*.wav"))
		if len(files) == 1 && wavComplete(files[0]) {
			file = files[0]
		}
	}
	_ = cmd.Process.Kill()
	<-exited
	if os.Getenv("FLOWBIN_TEST_SIP_LOG") != "" {
		t.Logf("baresip: %s", out.String())
	}
	return file
}

// wavComplete reports whether a WAV file's header counts the data it holds (and there is some).
func wavComplete(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil || len(b) <= 44 || string(b[:4]) != "RIFF" {
		return false
	}
	return int(binary.LittleEndian.Uint32(b[40:])) == len(b)-44
}

func TestBaresipHearsThePrompt(t *testing.T) {
	t.Parallel()
	needTools(t, "baresip", "espeak-ng")
	h := espeakHarness(t)
	const prompt = "Welcome to flowbin. Your call is important to us."
	h.flowFor("+15550007000",
		map[string]any{"type": "answer"},
		map[string]any{"type": "sleep", "option": map[string]any{"duration": 500}},
		map[string]any{"type": "talk", "option": map[string]any{"text": prompt, "language": "en-US"}},
		map[string]any{"type": "sleep", "option": map[string]any{"duration": 500}},
		map[string]any{"type": "hangup"})
	a := h.runner.Addr()
	file := baresip(t, "sip:+15550007000@"+a.String(), 15)
	heard := readWAV(t, file)
	want, err := sip.Espeak{}.Speak(context.Background(), prompt, "en-US", "")
	if err != nil {
		t.Fatal(err)
	}
	c := bestCorrelation(heard, want)
	t.Logf("baresip heard %d samples; correlation with the prompt %.3f", len(heard), c)
	if c < 0.9 {
		t.Fatalf("what baresip heard does not match the prompt: correlation %.3f", c)
	}
	af := h.ended(h.ledger.waitCall(t, 1))
	if af.types() != "answer,sleep,talk,sleep,hangup" || af.EndReason != "hangup" {
		t.Fatalf("trace: %s %s", af.types(), af.EndReason)
	}
}

// bestCorrelation is the highest normalised cross-correlation of the shorter signal with any stretch of the
// longer (a peer may have dropped a few packets of the prompt, or recorded silence around it).
func bestCorrelation(heard, prompt []int16) float64 {
	if len(heard) < len(prompt) {
		heard, prompt = prompt, heard
	}
	var pp float64
	for _, s := range prompt {
		pp += float64(s) * float64(s)
	}
	best := 0.0
	// the energy of the window, kept as it slides
	var hh float64
	for _, s := range heard[:len(prompt)] {
		hh += float64(s) * float64(s)
	}
	for lag := 0; lag+len(prompt) <= len(heard); lag++ {
		if lag > 0 {
			out, in := float64(heard[lag-1]), float64(heard[lag+len(prompt)-1])
			hh += in*in - out*out
		}
		if hh <= 0 {
			continue
		}
		var hp float64
		w := heard[lag : lag+len(prompt)]
		for i, s := range prompt {
			hp += float64(s) * float64(w[i])
		}
		if c := hp / math.Sqrt(hh*pp); c > best {
			best = c
		}
	}
	return best
}

func TestSIPpRecordingHoldsCallersAudio(t *testing.T) {
	t.Parallel()
	needTools(t, "sipp")
	h := newHarness(t, storetest.SQLite)
	h.flowFor("+15550006002",
		map[string]any{"type": "answer"},
		map[string]any{"type": "recording_start"},
		map[string]any{"type": "sleep", "option": map[string]any{"duration": 1500}},
		map[string]any{"type": "recording_stop"},
		map[string]any{"type": "hangup"})
	// SIPp speaks A-law (its shipped capture), which the runner answers and decodes into the WAV file.
	runSIPpCodec(t, h, "+15550006002", `  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/></action></nop>`, "8", "PCMA")
	callID := h.ledger.waitCall(t, 1)
	af := h.ended(callID)
	if want := "answer,recording_start,sleep,recording_stop,hangup"; af.types() != want {
		t.Fatalf("trace: got %s, want %s", af.types(), want)
	}
	c := h.hungUp(callID)
	if len(c.RecordingIDs) != 1 {
		t.Fatalf("recordings: %v", c.RecordingIDs)
	}
	h.ledger.mu.Lock()
	rec := h.ledger.recordings[c.RecordingIDs[0]]
	h.ledger.mu.Unlock()
	got := readWAV(t, rec.Path)
	sent := pcapAudio(t, "/usr/share/sip-tester/g711a.pcap")
	if len(got) < 8000 {
		t.Fatalf("the recording holds %d samples", len(got))
	}
	// Every other sample is enough to find where the recording sits in what SIPp sent.
	cor := bestCorrelation(half(got), half(sent))
	t.Logf("recorded %d samples; correlation with SIPp's audio %.3f", len(got), cor)
	if cor < 0.9 {
		t.Fatalf("the recording does not hold the caller's audio: correlation %.3f", cor)
	}
}

func half(s []int16) []int16 {
	out := make([]int16, len(s)/2)
	for i := range out {
		out[i] = s[2*i]
	}
	return out
}

// pcapAudio decodes the A-law RTP payloads of a capture (Ethernet, IPv4, UDP), in order.
func pcapAudio(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []int16
	for off := 24; off+16 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		pkt := b[off+16 : off+16+n]
		off += 16 + n
		ip := pkt[14:]
		rtp := ip[int(ip[0]&15)*4+8:]
		for _, a := range rtp[12:] {
			out = append(out, alawToPCM(a))
		}
	}
	return out
}

// alawToPCM decodes one A-law byte (G.711).
func alawToPCM(a byte) int16 {
	a ^= 0x55
	seg := (a >> 4) & 7
	v := int(a&15)<<4 + 8
	if seg > 0 {
		v = (v + 0x100) << (seg - 1)
	}
	if a&0x80 == 0 {
		return int16(-v)
	}
	return int16(v)
}

func TestSIPpAnswersOutboundCall(t *testing.T) {
	t.Parallel()
	needTools(t, "sipp")
	h := newHarness(t, storetest.SQLite)
	port := freeSIPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, "sipp", "-sn", "uas", "-m", "1", "-nostdin", "-i", "127.0.0.1", "-p", itoa(port),
		"-mp", itoa(freeUDPPort(t)), "-timeout", "25s", "-timeout_error", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"))
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// SIPp listens once it has bound its port: dial until it answers.
	var calls []sip.Call
	waitFor(t, 10*time.Second, "SIPp to listen", func() bool {
		c, err := net.ListenPacket("udp", "127.0.0.1:"+itoa(port))
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	calls, err := h.runner.Dial(context.Background(), sip.DialRequest{
		CustomerID:   h.customerID,
		Source:       sip.Address{Type: "tel", Target: "+15550008000"},
		Destinations: []sip.Address{{Type: "sip", Target: "sip:sipp@127.0.0.1:" + itoa(port)}},
		Actions: mustActions(t, h,
			map[string]any{"type": "talk", "option": map[string]any{"text": "Reminder."}},
			map[string]any{"type": "hangup"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	af := h.ended(calls[0].ID)
	if af.types() != "talk,hangup" || af.EndReason != "hangup" {
		t.Fatalf("trace: %s %s", af.types(), af.EndReason)
	}
	if err := <-exited; err != nil {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Fatalf("sipp: %v\n%s\n%s", err, lastLines(out.String(), 20), errs)
	}
	h.hungUp(calls[0].ID)
	want := "call_created dialing,call_ringing,call_progressing,call_hangup"
	if got := strings.Join(h.ledger.events(calls[0].ID), ","); got != want {
		t.Fatalf("events: got %s, want %s", got, want)
	}
}
