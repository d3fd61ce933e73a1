package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown sends SIGTERM while requests are running: an upload still in flight completes, the load
// gets no 5xx, new connections are refused, the database pool is closed, and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	in := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "shutdown-pw"})
	a := api{t: t, base: in.url}
	_, b := a.want(http.StatusOK, "POST", "/auth/login", `{"username":"admin","password":"shutdown-pw"}`)
	var login struct{ Token string }
	json.Unmarshal(b, &login)
	a.token = login.Token

	// An upload in flight: headers and half of the body sent.
	body := `{"name":"in flight","actions":[{"type":"answer"},{"type":"hangup"}]}`
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1.0/flows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		login.Token, len(body), body[:len(body)/2])

	// Load: clients that keep calling until they cannot connect any more.
	var (
		wg       sync.WaitGroup
		served   atomic.Int64
		failures atomic.Int64
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
			for {
				req, _ := http.NewRequest("GET", in.url+"/v1.0/flows", nil)
				req.Header.Set("Authorization", "Bearer "+login.Token)
				res, err := client.Do(req)
				if err != nil {
					return // the listener is closed
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failures.Add(1)
				}
				served.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused soon.
	refused := false
	for i := 0; i < 50 && !refused; i++ {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(in.url, "http://"), time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
	if !refused {
		t.Error("new connections are still accepted after SIGTERM")
	}
	wg.Wait()

	// The upload completes, and is answered.
	if _, err := io.WriteString(conn, body[len(body)/2:]); err != nil {
		t.Fatalf("finish the upload: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		t.Errorf("the request in flight: status %d", res.StatusCode)
	}
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("flowbin exited with %v", err)
		}
		in.once.Do(func() {})
	case <-time.After(30 * time.Second):
		t.Fatal("flowbin did not exit")
	}
	if failures.Load() > 0 || served.Load() == 0 {
		t.Errorf("load: %d served, %d not 200", served.Load(), failures.Load())
	}
	if !strings.Contains(in.stderr.String(), "database pool closed") || !strings.Contains(in.stderr.String(), `msg=stopped`) {
		t.Errorf("the log does not show a clean stop:\n%s", in.stderr)
	}
}
