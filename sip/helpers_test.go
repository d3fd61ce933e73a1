package sip_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

type flowAction = flow.Action

func itoa(n int) string { return strconv.Itoa(n) }

func toAction(t *testing.T, m map[string]any) flow.Action {
	t.Helper()
	a := flow.Action{ID: uuid.New(), Type: flow.Type(m["type"].(string))}
	if o, ok := m["option"]; ok {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		a.Option = b
	}
	return a
}

func sdpOffer(formats, attrs string) string {
	return "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 40000 RTP/AVP " + formats + "\r\n" + attrs
}

// rawInvite sends an INVITE by hand over UDP and answers the final status (0 when none came within 3 s).
func rawInvite(t *testing.T, addr, user, sdp string) int {
	t.Helper()
	return rawRequest(t, addr, "INVITE", user, sdp, 3*time.Second)
}

// noContact, as rawInvite's user suffix, leaves the Contact header out.
const noContact = "#no-contact"

// rawRequest sends a request by hand over UDP and answers the final status (0 when none came in time).
func rawRequest(t *testing.T, addr, method, user, sdp string, wait time.Duration) int {
	t.Helper()
	code, _ := rawExchange(t, addr, method, user, sdp, wait)
	return code
}

// rawInviteHeader is rawInvite that also answers a header of the final response ("" when absent).
func rawInviteHeader(t *testing.T, addr, user, sdp, header string) (int, string) {
	t.Helper()
	code, res := rawExchange(t, addr, "INVITE", user, sdp, 3*time.Second)
	for _, line := range strings.Split(res, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), header) {
			return code, strings.TrimSpace(v)
		}
	}
	return code, ""
}

// rawExchange sends a request by hand over UDP and answers the final status and the whole response (0 and ""
// when none came in time).
func rawExchange(t *testing.T, addr, method, user, sdp string, wait time.Duration) (int, string) {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	branch := "z9hG4bK" + strings.ReplaceAll(uuid.NewString(), "-", "")
	callID := uuid.NewString()
	dropContact := strings.HasSuffix(user, noContact)
	user = strings.TrimSuffix(user, noContact)
	target := "sip:" + addr
	if user != "" {
		target = "sip:" + user + "@" + addr
	}
	msg := fmt.Sprintf("%s %s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=%s\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:tester@%s>;tag=%s\r\n"+
		"To: <%s>\r\n"+
		"Call-ID: %s\r\n"+
		"CSeq: 1 %s\r\n"+
		"Contact: <sip:tester@%s>\r\n", method, target, local, branch, local, uuid.NewString()[:8], target, callID, method, local)
	if dropContact {
		msg = strings.Replace(msg, "Contact: <sip:tester@"+local+">\r\n", "", 1)
	}
	if sdp != "" {
		msg += "Content-Type: application/sdp\r\n"
	}
	msg += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(sdp), sdp)
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	deadline := time.Now().Add(wait)
	for {
		_ = conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err != nil {
			return 0, ""
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		code, _ := strconv.Atoi(f[1])
		if code >= 200 {
			if code < 300 || method != "INVITE" {
				// Not wanted by these tests: end the call again.
				return code, string(buf[:n])
			}
			ack := fmt.Sprintf("ACK sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s\r\nMax-Forwards: 70\r\n"+
				"From: <sip:tester@%s>\r\nTo: <sip:%s@%s>\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
				user, addr, local, branch, local, user, addr, callID)
			_, _ = conn.Write([]byte(ack))
			return code, string(buf[:n])
		}
	}
}

// readWAV reads a 16-bit mono WAV file's samples.
func readWAV(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s is not a WAV file", path)
	}
	if got := binary.LittleEndian.Uint32(b[40:]); int(got) != len(b)-44 {
		t.Fatalf("the WAV header says %d bytes of data, the file holds %d", got, len(b)-44)
	}
	out := make([]int16, (len(b)-44)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[44+2*i:]))
	}
	return out
}
