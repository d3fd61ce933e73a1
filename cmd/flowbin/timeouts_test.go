package main

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSlowClientsAreCutOff: a client that trickles its headers, or its body, is cut off by the server's timeouts
// instead of holding a connection (slowloris).
func TestSlowClientsAreCutOff(t *testing.T) {
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_READ_HEADER_TIMEOUT": "500ms", "FLOWBIN_READ_TIMEOUT": "1s"})
	addr := strings.TrimPrefix(s.url, "http://")
	cases := map[string]struct{ start, trickle string }{
		"headers": {"GET /healthz HTTP/1.1\r\nHost: x\r\n", "X-Slow: 1\r\n"},
		"body": {"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
			" "},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, c.start); err != nil {
				t.Fatal(err)
			}
			// Trickle for up to 10 s; the server must end the exchange long before.
			done := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(conn).ReadString('\n')
				done <- line
			}()
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			deadline := time.After(10 * time.Second)
			for {
				select {
				case line := <-done:
					if line != "" && !strings.Contains(line, " 4") {
						t.Errorf("the server answered %q to a slow client", line)
					}
					return
				case <-tick.C:
					_, _ = io.WriteString(conn, c.trickle)
				case <-deadline:
					t.Fatal("a slow client held its connection for 10 s")
				}
			}
		})
	}
}
