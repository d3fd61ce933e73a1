package sip

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strings"
)

// rfc4733 turns RFC 4733 telephone-event payloads into digits. It is our own because diago's reader (v0.42.1)
// drops an event whose first packet has duration 0, which is how SIPp's DTMF captures (and several phones)
// start one. An event is one digit however many packets carry it: packets repeat with a growing duration and the
// end bit set three times at the end, all with the RTP timestamp of the event's start, which is what tells two
// presses of the same key apart.
type rfc4733 struct {
	seen    bool
	lastTS  uint32
	lastEvt uint8
}

// dtmfEvents maps RFC 4733 event codes 0–15 to their keys.
const dtmfEvents = "0123456789*#ABCD"

// packet reads one telephone-event payload with its RTP timestamp; it answers the digit when the packet starts
// a new event.
func (p *rfc4733) packet(payload []byte, ts uint32) (rune, bool) {
	if len(payload) < 4 {
		return 0, false
	}
	evt := payload[0]
	if int(evt) >= len(dtmfEvents) {
		return 0, false // flash and the tones beyond the keypad are not digits
	}
	if p.seen && p.lastTS == ts && p.lastEvt == evt {
		return 0, false // a repeat, a longer duration or an end packet of the event already counted
	}
	_ = binary.BigEndian.Uint16(payload[2:4]) // the duration: any, 0 included
	p.seen, p.lastTS, p.lastEvt = true, ts, evt
	return rune(dtmfEvents[evt]), true
}

// infoDigit reads the digit of a SIP INFO request's body: application/dtmf-relay ("Signal=5\r\nDuration=160")
// or application/dtmf (the key alone). diago answers INFO 406, so the runner takes INFO before it.
func infoDigit(contentType string, body []byte) (rune, bool) {
	ct := strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	switch ct {
	case "application/dtmf-relay":
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				return keyOf(strings.TrimSpace(v))
			}
		}
	case "application/dtmf":
		return keyOf(strings.TrimSpace(string(body)))
	}
	return 0, false
}

// keyOf reads a key as sent in INFO: the character itself, or the event number ("10" is *, "11" is #).
func keyOf(s string) (rune, bool) {
	if len(s) == 1 {
		c := rune(strings.ToUpper(s)[0])
		if strings.ContainsRune(dtmfEvents, c) {
			return c, true
		}
		return 0, false
	}
	switch s {
	case "10":
		return '*', true
	case "11":
		return '#', true
	case "12", "13", "14", "15":
		return rune(dtmfEvents[int(s[1]-'0')+10]), true
	}
	return 0, false
}

// rfc4733Payload builds the payload of one telephone-event packet, for digits_send.
func rfc4733Payload(key rune, end bool, duration uint16) []byte {
	evt := strings.IndexRune(dtmfEvents, key)
	b := make([]byte, 4)
	b[0] = byte(evt)
	b[1] = 10 // volume -10 dBm0
	if end {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], duration)
	return b
}
