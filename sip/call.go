package sip

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// leg is what the runner needs of a diago dialog, inbound or outbound.
type leg interface {
	Context() context.Context
	Hangup(ctx context.Context) error
}

// call is one call in progress: its record, its SIP dialog and media, and what its actions share.
type call struct {
	r   *Runner
	log *slog.Logger

	mu  sync.Mutex
	rec Call

	leg     leg
	srv     *diago.DialogServerSession // inbound, until answered
	sipID   string
	inbound bool

	// media, set once answered
	med      *diago.DialogMedia
	codec    g711Codec
	audioPT  uint8
	dtmfRecv int // telephone-event payload type received (-1: none negotiated)
	dtmfSend int
	writer   *media.RTPPacketWriter
	wmu      sync.Mutex // diago's writer is not safe for concurrent use; guards relayPCM and relayOut too
	relayPCM []int16
	relayOut []byte
	answered atomic.Bool

	ctx    context.Context // ends when the call does, whoever hangs up
	cancel context.CancelFunc

	digits chan rune
	echo   atomic.Bool
	bridge atomic.Pointer[call] // the call whose audio this one's is copied to (connect)
	record recorder

	hungUpLocally atomic.Bool
	hangupReason  atomic.Value // string
	vars          map[string]string
	sentIdentity  bool
}

func newCall(r *Runner, rec Call, l leg) *call {
	c := &call{r: r, rec: rec, leg: l, digits: make(chan rune, 128), dtmfRecv: -1, dtmfSend: -1, vars: map[string]string{}}
	c.ctx, c.cancel = context.WithCancel(l.Context())
	c.log = r.log.With("call_id", rec.ID, "customer_id", rec.CustomerID)
	return c
}

// gone reports whether the call has ended, for any reason.
func (c *call) gone() bool { return c.ctx.Err() != nil }

// terminate hangs the call up from this side (an action, the API, shutdown).
func (c *call) terminate(reason string) {
	if c.hungUpLocally.Swap(true) {
		return
	}
	c.hangupReason.Store(reason)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 5*time.Second)
	defer cancel()
	if c.srv != nil && !c.answered.Load() {
		_ = c.srv.Respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", nil)
	} else if err := c.leg.Hangup(ctx); err != nil && c.leg.Context().Err() == nil {
		c.log.Warn("hang up", "err", err)
	}
	c.cancel()
}

// digit takes a key the caller pressed (RFC 4733 or INFO). Keys beyond the buffer are dropped: 128 unread keys
// are not a caller navigating a menu.
func (c *call) digit(d rune, how string) {
	if b := c.bridge.Load(); b != nil {
		b.sendDigits(string(d), 160*time.Millisecond, 0) // a connected call hears the keys
	}
	select {
	case c.digits <- d:
	default:
		c.log.Warn("digit dropped: buffer full", "via", how)
	}
}

// update writes the call record through the Ledger.
func (c *call) update(f func(*Call)) {
	c.mu.Lock()
	f(&c.rec)
	rec := c.rec
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.r.cfg.Ledger.UpdateCall(ctx, &rec); err != nil {
		c.log.Error("update call record", "err", err)
	}
}

// answer answers an inbound call (once) and starts reading its media.
func (c *call) answer() error {
	if c.answered.Load() {
		return nil
	}
	if c.srv == nil {
		return errors.New("sip: no call to answer")
	}
	med, err := c.srv.Answer(diago.AnswerOptions{})
	if err != nil {
		return err
	}
	c.startMedia(med)
	c.update(func(rc *Call) { rc.Status = StatusProgressing; rc.TmProgressing = time.Now().UTC() })
	return nil
}

// startMedia learns the negotiated codecs and starts the reader of the call's RTP.
func (c *call) startMedia(med *diago.DialogMedia) {
	c.med = med
	ms := med.MediaSession()
	ac := media.CodecAudioFromSession(ms)
	c.audioPT = ac.PayloadType
	c.codec = g711Codec{alaw: strings.EqualFold(ac.Name, "pcma")}
	for _, cd := range ms.CommonCodecs() {
		if cd.Matches(media.CodecTelephoneEvent8000) {
			c.dtmfRecv, c.dtmfSend = int(cd.PayloadTypeRecv()), int(cd.PayloadType)
		}
	}
	c.writer = med.RTPPacketWriter
	c.answered.Store(true)
	go c.readMedia(ms)
}

// readMedia reads the call's RTP until it ends: telephone-events become digits (our own RFC 4733 parser), audio
// goes to the echo, the bridge and the recording. Packets from an address that is not the peer's are ignored.
func (c *call) readMedia(ms *media.MediaSession) {
	reader := c.med.RTPPacketReader
	buf := make([]byte, media.RTPBufSize)
	var (
		ev  rfc4733
		pcm = make([]int16, 0, 320)
	)
	peer := newPeerAddr(ms.Raddr)
	var last time.Time
	for {
		n, err := reader.Read(buf)
		if err != nil {
			return
		}
		if from, ok := ms.ReadRTPFromAddr.(*net.UDPAddr); ok && !peer.matches(from) {
			c.r.cfg.Metrics.Dropped.Inc()
			continue
		}
		if n == 0 {
			continue
		}
		h := reader.PacketHeader
		switch {
		case int(h.PayloadType) == c.dtmfRecv:
			if d, ok := ev.packet(buf[:n], h.Timestamp); ok {
				c.digit(d, "rfc4733")
			}
		case h.PayloadType == 0 || h.PayloadType == 8:
			now := time.Now()
			if !last.IsZero() {
				c.r.cfg.Metrics.Gap.Observe(now.Sub(last).Seconds())
			}
			last = now
			payload := buf[:n]
			if c.echo.Load() {
				c.wmu.Lock()
				_, _ = c.writer.WriteSamples(payload, uint32(n), false, c.audioPT)
				c.wmu.Unlock()
			}
			if b := c.bridge.Load(); b != nil {
				b.relay(payload, h.PayloadType == 8)
			}
			if c.record.active() {
				if cap(pcm) < n {
					pcm = make([]int16, n)
				}
				pcm = pcm[:n]
				g711Codec{alaw: h.PayloadType == 8}.decode(pcm, payload)
				c.record.write(pcm)
			}
		}
	}
}

// relay writes audio from the other leg of a connect, transcoding G.711 when the legs' codecs differ.
func (c *call) relay(payload []byte, alaw bool) {
	if !c.answered.Load() {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	out := payload
	if alaw != c.codec.alaw {
		// Transcoded into buffers of this leg, kept from packet to packet (wmu guards them).
		if cap(c.relayPCM) < len(payload) {
			c.relayPCM, c.relayOut = make([]int16, len(payload)), make([]byte, len(payload))
		}
		pcm, b := c.relayPCM[:len(payload)], c.relayOut[:len(payload)]
		g711Codec{alaw: alaw}.decode(pcm, payload)
		c.codec.encode(b, pcm)
		out = b
	}
	_, _ = c.writer.WriteSamples(out, uint32(len(out)), false, c.audioPT)
}

// peerAddr is the address the peer's SDP gave, prepared to be compared with the source of every packet: an
// IPv4 address as its 4 bytes, so that the comparison is a few instructions (net.IP.Equal handled the 4-in-16
// forms on every packet).
type peerAddr struct {
	port int
	any  bool // the SDP names 0.0.0.0 (on hold, or behind NAT): the port alone is matched
	v4   bool
	ip4  [4]byte
	ip   net.IP
}

func newPeerAddr(a net.UDPAddr) peerAddr {
	p := peerAddr{port: a.Port, ip: a.IP, any: a.IP == nil || a.IP.IsUnspecified()}
	if ip4 := a.IP.To4(); ip4 != nil {
		p.v4, p.ip4 = true, [4]byte(ip4)
	}
	return p
}

// matches compares the source of a packet with the peer.
func (p *peerAddr) matches(from *net.UDPAddr) bool {
	if from.Port != p.port {
		return false
	}
	if p.any {
		return true
	}
	if p.v4 {
		if ip4 := from.IP.To4(); ip4 != nil {
			return [4]byte(ip4) == p.ip4
		}
		return false
	}
	return from.IP.Equal(p.ip)
}

// playPCM sends audio, 20 ms a packet, paced by diago's writer; it stops early when the call ends or, with
// stopOnDigit, when a key was pressed (the key stays for the next digits_receive).
func (c *call) playPCM(pcm []int16, stopOnDigit bool) (interrupted bool) {
	buf := make([]byte, frameSamples)
	frame := make([]int16, frameSamples)
	for off := 0; off < len(pcm); off += frameSamples {
		if c.gone() {
			return true
		}
		if stopOnDigit && len(c.digits) > 0 {
			return true
		}
		n := copy(frame, pcm[off:])
		clear(frame[n:])
		c.codec.encode(buf, frame)
		c.wmu.Lock()
		_, err := c.writer.Write(buf)
		c.wmu.Unlock()
		if err != nil {
			return true
		}
	}
	return false
}

// sendDigits sends keys as RFC 4733 events when the peer takes them, else as SIP INFO (application/dtmf-relay).
func (c *call) sendDigits(digits string, dur, gap time.Duration) {
	if !c.answered.Load() {
		return
	}
	for i, d := range digits {
		if c.gone() {
			return
		}
		if i > 0 && gap > 0 {
			select {
			case <-time.After(gap):
			case <-c.ctx.Done():
				return
			}
		}
		if c.dtmfSend >= 0 {
			c.sendEvent(d, dur)
			continue
		}
		c.sendInfo(d, dur)
	}
}

// sendEvent sends one RFC 4733 event: packets every 20 ms with the event's start timestamp and a growing
// duration, the first marked, the last (end bit) three times, then the media clock moves past the event.
func (c *call) sendEvent(d rune, dur time.Duration) {
	samples := uint16(min(int(dur/time.Millisecond)*8, 0xffff))
	pt := uint8(c.dtmfSend)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for el := uint16(160); ; el += 160 {
		end := el >= samples
		if end {
			el = samples
		}
		reps := 1
		if end {
			reps = 3
		}
		c.wmu.Lock()
		for range reps {
			_, _ = c.writer.WriteSamples(rfc4733Payload(d, end, el), 0, el == 160, pt)
		}
		c.wmu.Unlock()
		if end {
			break
		}
		<-tick.C
	}
	c.wmu.Lock()
	c.writer.DelayTimestamp(uint32(samples))
	c.wmu.Unlock()
}

func (c *call) sendInfo(d rune, dur time.Duration) {
	var dlg interface {
		Do(ctx context.Context, req *sip.Request) (*sip.Response, error)
	}
	switch l := c.leg.(type) {
	case *diago.DialogServerSession:
		dlg = l.DialogServerSession
	case *diago.DialogClientSession:
		dlg = l.DialogClientSession
	default:
		return
	}
	req := sip.NewRequest(sip.INFO, sip.Uri{})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody([]byte("Signal=" + string(d) + "\r\nDuration=" + itoa(int(dur/time.Millisecond)) + "\r\n"))
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	if _, err := dlg.Do(ctx, req); err != nil {
		c.log.Warn("send INFO digit", "err", err)
	}
}

// waitDigits collects keys until length of them, the key, or the deadline (dur 0: none), or the call's end.
func (c *call) waitDigits(dur time.Duration, length int, key string) string {
	var timeout <-chan time.Time
	if dur > 0 {
		t := time.NewTimer(dur)
		defer t.Stop()
		timeout = t.C
	}
	var got strings.Builder
	for {
		select {
		case d := <-c.digits:
			got.WriteRune(d)
			if key != "" && string(d) == key {
				return got.String()
			}
			if length > 0 && got.Len() >= length {
				return got.String()
			}
		case <-timeout:
			return got.String()
		case <-c.ctx.Done():
			return got.String()
		}
	}
}

// sleep waits d or until the call ends; it answers false when the call ended.
func (c *call) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// newCallID is a call's id: time-ordered, as flowbin's other ids.
func newCallID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}
