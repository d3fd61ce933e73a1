package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flowbin/flowbin/store/storetest"
)

// halfDuplex sends a whole request, headers and body, before it reads a byte of the answer, as Python's urllib
// and many other clients do, and returns the answer.
func halfDuplex(t *testing.T, addr, head string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetWriteBuffer(64 << 10) // as on a real network: the kernel does not take the whole body
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		return nil, nil, fmt.Errorf("write headers: %w", err)
	}
	if _, err := conn.Write(body); err != nil {
		return nil, nil, fmt.Errorf("write body: %w", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("read answer: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

// tightServer serves h with small socket receive buffers (64 KiB), as a server on a real network has in effect:
// on loopback the kernel's buffers would absorb a whole 2 MiB body, and hide what a half-duplex client meets.
func tightServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = tightListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

type tightListener struct{ net.Listener }

func (l tightListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(64 << 10)
	}
	return c, err
}

// TestEarlyAnswersReachHalfDuplexClients: a client that sends its whole 2 MiB body before reading gets the 413
// envelope, not a reset connection: the server reads (and drops) a bounded amount of the body before it answers
// early. The same for other early answers (401, 404) to requests with bodies, and for chunked bodies.
func TestEarlyAnswersReachHalfDuplexClients(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		addr := strings.TrimPrefix(tightServer(t, e.srv.Config.Handler).URL, "http://")
		body := []byte(`{"name":"` + strings.Repeat("x", 2<<20) + `"}`)
		for _, c := range []struct {
			what, path, auth, reason string
			status                   int
			chunked                  bool
		}{
			{"413", "/v1.0/flows", "Bearer " + e.alice.token, "BODY_TOO_LARGE", http.StatusRequestEntityTooLarge, false},
			{"413 chunked", "/v1.0/flows", "Bearer " + e.alice.token, "BODY_TOO_LARGE", http.StatusRequestEntityTooLarge, true},
			{"401", "/v1.0/flows", "", "BODY_TOO_LARGE", http.StatusRequestEntityTooLarge, false},
			{"404", "/nowhere", "", "ROUTE_NOT_FOUND", http.StatusNotFound, false},
			{"405", "/v1.0/flows/validate/x", "", "ROUTE_NOT_FOUND", http.StatusNotFound, false},
		} {
			head := "POST " + c.path + " HTTP/1.1\r\nHost: flowbin\r\nContent-Type: application/json\r\n"
			if c.auth != "" {
				head += "Authorization: " + c.auth + "\r\n"
			}
			payload := body
			if c.chunked {
				head += "Transfer-Encoding: chunked\r\n\r\n"
				var sb strings.Builder
				for i := 0; i < len(body); i += 32 << 10 {
					chunk := body[i:min(i+32<<10, len(body))]
					fmt.Fprintf(&sb, "%x\r\n%s\r\n", len(chunk), chunk)
				}
				sb.WriteString("0\r\n\r\n")
				payload = []byte(sb.String())
			} else {
				head += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
			}
			res, got, err := halfDuplex(t, addr, head, payload)
			if err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			if res.StatusCode != c.status || !strings.Contains(string(got), `"reason":"`+c.reason+`"`) {
				t.Errorf("%s: %d %s", c.what, res.StatusCode, got)
			}
		}
		if n := e.countFlows(e.alice); n != 0 {
			t.Errorf("%d flows stored", n)
		}
	})
}

// TestEarlyAnswersReachPythonUrllib: Python's urllib.request, posting 2 MiB, reads the 413 envelope.
func TestEarlyAnswersReachPythonUrllib(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is not installed")
		}
		t.Skip("python3 is not installed")
	}
	e := newEnv(t, storetest.SQLite)
	// The client's socket buffer is made small, as on a real network (on loopback the kernel takes the whole body
	// at once, and hides what a half-duplex client meets elsewhere).
	script := `
import http.client, socket, sys, urllib.request, urllib.error
connect = http.client.HTTPConnection.connect
def small_buffers(self):
    connect(self)
    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
http.client.HTTPConnection.connect = small_buffers
req = urllib.request.Request(sys.argv[1] + "/v1.0/flows", data=b'{"name":"' + b"x" * (2 << 20) + b'"}', method="POST",
    headers={"Content-Type": "application/json", "Authorization": "Bearer " + sys.argv[2]})
try:
    urllib.request.urlopen(req, timeout=30)
    print("no error")
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
`
	out, err := exec.Command(python, "-c", script, tightServer(t, e.srv.Config.Handler).URL, e.alice.token).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "413 ") || !strings.Contains(string(out), `"reason":"BODY_TOO_LARGE"`) {
		t.Errorf("python got: %s", out)
	}
}
