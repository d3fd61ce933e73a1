package outbound_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowbin/flowbin/outbound"
)

func TestGuardRefusesWhatIsNotPublic(t *testing.T) {
	c := outbound.New(outbound.Config{})
	ctx := context.Background()
	// None of these is dialed: the guard refuses the address before any packet leaves.
	for _, url := range []string{"http://127.0.0.1:1/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/",
		"http://[::1]:1/", "http://localhost:1/", "http://0.0.0.0:1/", "http://[::ffff:127.0.0.1]:1/", "http://100.64.0.1/"} {
		_, err := c.Do(ctx, outbound.Request{Method: "GET", URL: url})
		if !errors.Is(err, outbound.ErrRefused) {
			t.Errorf("%s: got %v, want refused", url, err)
		}
	}
	for _, s := range []string{"8.8.8.8", "2606:4700::1111", "1.1.1.1"} {
		if !outbound.Public(netip.MustParseAddr(s)) {
			t.Errorf("%s is public", s)
		}
	}
	if _, err := c.Do(ctx, outbound.Request{URL: "file:///etc/passwd"}); err == nil {
		t.Error("only http(s) URLs are sent")
	}
}

func TestAllowAndBounds(t *testing.T) {
	slow := make(chan struct{})
	defer close(slow)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("fine"))
		case "/huge":
			w.Write([]byte(strings.Repeat("x", 2<<20)))
		case "/slow":
			select {
			case <-slow:
			case <-r.Context().Done():
			}
		case "/redirect":
			http.Redirect(w, r, "http://127.0.0.2:1/elsewhere", http.StatusFound)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()

	// Allowed by host:port: that port only.
	allow, err := outbound.ParseAllow(host)
	if err != nil {
		t.Fatal(err)
	}
	c := outbound.New(outbound.Config{Allow: allow, Timeout: 300 * time.Millisecond})
	res, err := c.Do(ctx, outbound.Request{Method: "GET", URL: srv.URL + "/ok"})
	if err != nil || res.Status != 200 || string(res.Body) != "fine" {
		t.Fatalf("allowed: %v %+v", err, res)
	}
	if _, err := c.Do(ctx, outbound.Request{Method: "GET", URL: srv.URL + "/redirect"}); !errors.Is(err, outbound.ErrRefused) {
		t.Errorf("a redirect to a refused address: %v", err)
	}
	if _, err := c.Do(ctx, outbound.Request{Method: "GET", URL: srv.URL + "/huge"}); !errors.Is(err, outbound.ErrTooLarge) {
		t.Errorf("a 2 MiB answer: %v", err)
	}
	start := time.Now()
	if _, err := c.Do(ctx, outbound.Request{Method: "GET", URL: srv.URL + "/slow"}); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("a slow server: %v after %s", err, time.Since(start))
	}

	// Allowed by CIDR.
	allow, err = outbound.ParseAllow("127.0.0.0/8, ::1")
	if err != nil || len(allow.Prefixes) != 2 {
		t.Fatal(allow, err)
	}
	c = outbound.New(outbound.Config{Allow: allow})
	if _, err := c.Do(ctx, outbound.Request{Method: "GET", URL: srv.URL + "/ok"}); err != nil {
		t.Errorf("allowed by CIDR: %v", err)
	}
	if _, err := c.Do(ctx, outbound.Request{Method: "GET", URL: "http://10.0.0.1/"}); !errors.Is(err, outbound.ErrRefused) {
		t.Errorf("10.0.0.1 is still refused: %v", err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "host:0", ":80"} {
		if _, err := outbound.ParseAllow(bad); err == nil {
			t.Errorf("%q must not parse", bad)
		}
	}
}
