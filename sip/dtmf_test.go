package sip

import (
	"encoding/binary"
	"testing"
)

func TestRFC4733OneDigitPerEvent(t *testing.T) {
	t.Parallel()
	pkt := func(evt byte, end bool, dur uint16) []byte {
		b := []byte{evt, 10, 0, 0}
		if end {
			b[1] |= 0x80
		}
		binary.BigEndian.PutUint16(b[2:], dur)
		return b
	}
	type in struct {
		p  []byte
		ts uint32
	}
	cases := []struct {
		name string
		in   []in
		want string
	}{
		{"first packet of duration 0 (SIPp's captures)", []in{{pkt(2, false, 0), 100}, {pkt(2, false, 160), 100}, {pkt(2, true, 480), 100}, {pkt(2, true, 480), 100}, {pkt(2, true, 480), 100}}, "2"},
		{"the same key twice", []in{{pkt(5, false, 160), 100}, {pkt(5, true, 320), 100}, {pkt(5, false, 160), 900}, {pkt(5, true, 320), 900}}, "55"},
		{"two keys", []in{{pkt(1, false, 160), 100}, {pkt(11, false, 160), 900}, {pkt(10, false, 0), 1900}}, "1#*"},
		{"only end packets (the start was lost)", []in{{pkt(3, true, 800), 100}, {pkt(3, true, 800), 100}}, "3"},
		{"keys A to D", []in{{pkt(12, false, 0), 1}, {pkt(15, false, 0), 2}}, "AD"},
		{"flash and short payloads are not keys", []in{{pkt(16, false, 0), 1}, {[]byte{1, 2}, 2}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p rfc4733
			got := ""
			for _, x := range tc.in {
				if d, ok := p.packet(x.p, x.ts); ok {
					got += string(d)
				}
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestInfoDigit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ct, body string
		want     rune
		ok       bool
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', true},
		{"application/dtmf-relay; charset=utf-8", "Duration=160\nsignal= #\n", '#', true},
		{"application/dtmf-relay", "Signal=11\r\n", '#', true},
		{"application/dtmf-relay", "Signal=10\r\n", '*', true},
		{"application/dtmf", "7", '7', true},
		{"APPLICATION/DTMF", " d ", 'D', true},
		{"application/dtmf-relay", "Signal=x\r\n", 0, false},
		{"application/dtmf-relay", "Duration=160\r\n", 0, false},
		{"text/plain", "5", 0, false},
		{"application/dtmf", "55", 0, false},
	}
	for _, tc := range cases {
		got, ok := infoDigit(tc.ct, []byte(tc.body))
		if got != tc.want || ok != tc.ok {
			t.Errorf("infoDigit(%q, %q): got %q %v, want %q %v", tc.ct, tc.body, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCheckOffer(t *testing.T) {
	t.Parallel()
	offer := func(m, attrs string) []byte {
		return []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + m + "\r\n" + attrs)
	}
	cases := []struct {
		name string
		body []byte
		want int
	}{
		{"PCMU", offer("m=audio 4000 RTP/AVP 0 101", ""), 0},
		{"PCMA", offer("m=audio 4000 RTP/AVP 8", ""), 0},
		{"dynamic PCMU", offer("m=audio 4000 RTP/AVP 96", "a=rtpmap:96 PCMU/8000\r\n"), 0},
		{"G.729 only", offer("m=audio 4000 RTP/AVP 18", "a=rtpmap:18 G729/8000\r\n"), 488},
		{"opus only", offer("m=audio 4000 RTP/AVP 111", "a=rtpmap:111 opus/48000/2\r\n"), 488},
		{"SRTP", offer("m=audio 4000 RTP/SAVP 0", ""), 488},
		{"video only", offer("m=video 4000 RTP/AVP 96", ""), 488},
		{"no SDP", nil, 488},
		{"garbage", []byte("hello"), 400},
		{"no connection line", []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"), 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := checkOffer(tc.body); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestDecodeWAV(t *testing.T) {
	t.Parallel()
	pcm := make([]int16, 800)
	for i := range pcm {
		pcm[i] = int16(i * 40)
	}
	got, err := decodeWAV(encodeWAV(pcm))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pcm) || got[799] != pcm[799] {
		t.Fatalf("round trip: got %d samples", len(got))
	}
	// 22050 Hz stereo 16-bit (espeak-ng's rate, two channels) becomes 8 kHz mono.
	const n = 22050
	b := make([]byte, 44+4*n)
	copy(b, encodeWAV(nil)[:44])
	binary.LittleEndian.PutUint16(b[22:], 2)
	binary.LittleEndian.PutUint32(b[24:], 22050)
	binary.LittleEndian.PutUint32(b[40:], 4*n)
	for i := range n {
		binary.LittleEndian.PutUint16(b[44+4*i:], 1000)
		binary.LittleEndian.PutUint16(b[46+4*i:], 3000)
	}
	got, err = decodeWAV(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8000 || got[100] != 2000 {
		t.Fatalf("resampled: %d samples, sample 100 = %d", len(got), got[100])
	}
	for _, bad := range [][]byte{nil, []byte("RIFF....WAVEfmt "), []byte("not a wav file at all......")} {
		if _, err := decodeWAV(bad); err == nil {
			t.Errorf("decodeWAV(%q) did not fail", bad)
		}
	}
}

func TestEspeakVoice(t *testing.T) {
	t.Parallel()
	cases := [][3]string{{"en-US", "", "en-us"}, {"", "", "en-us"}, {"fr-FR", "", "fr-fr"}, {"en-US", "en-gb+f3", "en-gb+f3"}, {"de; rm -rf /", "", "derm-rf"}}
	for _, c := range cases {
		if got := espeakVoice(c[0], c[1]); got != c[2] {
			t.Errorf("espeakVoice(%q, %q): got %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
