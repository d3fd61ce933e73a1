package sip_test

import (
	"context"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/flowbin/flowbin/sip"
)

// TestDiagoStillAnswersInfo406 pins a gap of the pinned diago (v0.42.1) that the runner works around: a SIP INFO
// carrying a key is answered 406, so the runner's middleware takes INFO first. When an upgrade makes diago take
// INFO keys itself, this test fails: check the workaround (sip/runner.go, handleInfo) against the new behaviour.
func TestDiagoStillAnswersInfo406(t *testing.T) {
	t.Parallel()
	callee, caller := newPhone(t), newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, _, err := caller.dg.Invite(ctx, sipgosip.Uri{Scheme: "sip", User: "bare", Host: "127.0.0.1", Port: callee.port}, diago.InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Hangup(context.Background()) }()
	req := sipgosip.NewRequest(sipgosip.INFO, d.InviteRequest.Recipient)
	req.AppendHeader(sipgosip.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody([]byte("Signal=5\r\nDuration=160\r\n"))
	res, err := d.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != sipgosip.StatusNotAcceptable {
		t.Fatalf("diago answered INFO %d (was 406 in v0.42.1): its INFO handling changed, revisit the runner's", res.StatusCode)
	}
}

// TestDiagoStillDropsEventsStartingAtDurationZero pins the other gap: diago's RFC 4733 reader drops an event whose
// first packet has duration 0, which is how SIPp's captures start one; the runner parses events itself
// (sip/dtmf.go). When an upgrade fixes it, this test fails: the runner's parser may then give way to diago's.
func TestDiagoStillDropsEventsStartingAtDurationZero(t *testing.T) {
	t.Parallel()
	var pkts []*rtp.Packet
	for i, dur := range []uint16{0, 160, 320, 480, 480, 480} {
		p := []byte{2, 10, 0, 0}
		if i >= 3 {
			p[1] |= 0x80
		}
		binary.BigEndian.PutUint16(p[2:], dur)
		pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2, Marker: i == 0, PayloadType: 101,
			SequenceNumber: uint16(i + 1), Timestamp: 8000, SSRC: 1}, Payload: p})
	}
	src := &packetSource{pkts: pkts}
	pr := media.NewRTPPacketReader(src, media.CodecTelephoneEvent8000)
	dr := media.NewRTPDTMFReader(media.CodecTelephoneEvent8000, pr, pr)
	buf := make([]byte, media.RTPBufSize)
	got := ""
	for range pkts {
		if _, err := dr.Read(buf); err != nil {
			t.Fatal(err)
		}
		if d, ok := dr.ReadDTMF(); ok {
			got += string(d)
		}
	}
	if got != "" {
		t.Fatalf("diago read %q from an event that starts at duration 0 (it read nothing in v0.42.1): revisit sip/dtmf.go", got)
	}
	// The runner's own parser reads the same packets as one key.
	var mine string
	parse := sip.NewRFC4733ParserForTest()
	for _, p := range pkts {
		if d, ok := parse(p.Payload, p.Timestamp); ok {
			mine += string(d)
		}
	}
	if mine != "2" {
		t.Fatalf("the runner's parser read %q, want 2", mine)
	}
}

// packetSource hands out prepared RTP packets as a media session would.
type packetSource struct {
	pkts []*rtp.Packet
	i    int
}

func (s *packetSource) ReadRTP(buf []byte, p *rtp.Packet) (int, error) {
	if s.i >= len(s.pkts) {
		return 0, io.EOF
	}
	raw, err := s.pkts[s.i].Marshal()
	if err != nil {
		return 0, err
	}
	s.i++
	n := copy(buf, raw)
	return n, p.Unmarshal(buf[:n])
}
