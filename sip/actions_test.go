package sip_test

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store/storetest"
)

func TestPlayFetchesThroughTheGuardedClient(t *testing.T) {
	t.Parallel()
	wav := make([]byte, 44+2*8000) // one second of a tone, 8 kHz 16-bit mono
	copy(wav, "RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data")
	binary.LittleEndian.PutUint32(wav[40:], 2*8000)
	for i := range 8000 {
		binary.LittleEndian.PutUint16(wav[44+2*i:], uint16(int16([]int{0, 5000, 0, -5000}[i%4])))
	}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hello.wav":
			_, _ = w.Write(wav)
		case "/beep.ulaw":
			_, _ = w.Write([]byte(strings.Repeat("\x00\x80", 800)))
		case "/big.wav":
			_, _ = w.Write(make([]byte, 1<<20))
		default:
			http.NotFound(w, r)
		}
	}))
	defer files.Close()
	allow, err := outbound.ParseAllow(strings.TrimPrefix(files.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, storetest.SQLite, func(c *sip.Config) {
		c.Fetch = outbound.New(outbound.Config{Allow: allow, Timeout: 5 * time.Second, MaxBodyBytes: 64 << 10})
	})
	h.flowFor("+15550010000",
		map[string]any{"type": "answer"},
		map[string]any{"type": "play", "option": map[string]any{"stream_urls": []string{files.URL + "/hello.wav", files.URL + "/beep.ulaw"}}},
		map[string]any{"type": "variable_set", "option": map[string]any{"key": "first", "value": "[${flowbin.call.result}]"}},
		map[string]any{"type": "play", "option": map[string]any{"stream_urls": []string{files.URL + "/missing.wav"}}},
		map[string]any{"type": "variable_set", "option": map[string]any{"key": "missing", "value": "${flowbin.call.result}"}},
		map[string]any{"type": "play", "option": map[string]any{"stream_urls": []string{files.URL + "/big.wav"}}},
		map[string]any{"type": "variable_set", "option": map[string]any{"key": "big", "value": "${flowbin.call.result}"}},
		map[string]any{"type": "beep"},
		map[string]any{"type": "hangup"})
	_, med := h.phone.call(h, "+15550010000")
	got := listen(med)
	af := h.ended(h.ledger.waitCall(t, 1))
	if want := "answer,play,variable_set,play,variable_set,play,variable_set,beep,hangup"; af.types() != want {
		t.Fatalf("trace: got %s, want %s", af.types(), want)
	}
	if af.Variables["first"] != "[]" {
		t.Fatalf("the files that play: %q", af.Variables["first"])
	}
	if v := af.Variables["missing"]; !strings.HasPrefix(v, "failed: play ") || !strings.Contains(v, "404") {
		t.Fatalf("a missing file: %q", v)
	}
	if v := af.Variables["big"]; !strings.HasPrefix(v, "failed: play ") {
		t.Fatalf("a file over the bound: %q", v)
	}
	// 1 s of WAV, 200 ms of μ-law, 250 ms of beep: 72 packets of 20 ms, heard by the phone.
	waitFor(t, 5*time.Second, "the audio to arrive", func() bool { return got.count() >= 70 })
}

func TestConnectBridgesTheFirstThatAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite, func(c *sip.Config) { c.RingTimeout = time.Second })
	nobody := freeUDPPort(t)
	h.flowFor("+15550011000",
		map[string]any{"type": "answer"},
		map[string]any{"type": "connect", "option": map[string]any{"destinations": []map[string]string{
			{"type": "sip", "target": "sip:nobody@127.0.0.1:" + itoa(nobody)}}}},
		map[string]any{"type": "variable_set", "option": map[string]any{"key": "none", "value": "${flowbin.call.result}"}},
		map[string]any{"type": "connect", "option": map[string]any{"destinations": []map[string]string{
			{"type": "sip", "target": "sip:bob@127.0.0.1:" + itoa(h.phone.port)}}}},
		map[string]any{"type": "talk", "option": map[string]any{"text": "Thank you."}},
		map[string]any{"type": "hangup"})
	_, med := h.phone.call(h, "+15550011000")
	var callee *phoneCall
	select {
	case callee = <-h.phone.answered:
	case <-time.After(10 * time.Second):
		t.Fatal("the destination was not called")
	}
	// The caller speaks; the callee hears it through the bridge.
	tone := make([]byte, 160)
	for i := range tone {
		tone[i] = []byte{0xff, 0x8f, 0x80, 0x8f, 0xff, 0x0f, 0x00, 0x0f}[i%8]
	}
	for range 15 {
		if _, err := med.RTPPacketWriter.Write(tone); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "the callee to hear the caller", func() bool { return callee.got.count() >= 10 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := callee.d.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	af := h.ended(h.ledger.waitCall(t, 1))
	if want := "answer,connect,variable_set,connect,talk,hangup"; af.types() != want {
		t.Fatalf("trace: got %s, want %s", af.types(), want)
	}
	if v := af.Variables["none"]; !strings.HasPrefix(v, "failed: no destination answered") {
		t.Fatalf("a connect that none answered: %q", v)
	}
}
