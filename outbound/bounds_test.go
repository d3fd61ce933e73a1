package outbound_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbin/flowbin/outbound"
)

// TestHeadersAreBounded: an answer's headers are bounded on their own (64 KiB by default, where Go's default is
// 10 MiB) and count into the answer's bound with the body.
func TestHeadersAreBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/huge-headers": // 4 MB of headers, as the attack battery sent
			for i := range 1000 {
				w.Header().Add("X-Pad", strings.Repeat("a", 4000)+string(rune('a'+i%26)))
			}
		case "/headers-and-body": // 40 KiB of headers and 30 KiB of body: each under 64 KiB, together over
			w.Header().Set("X-Pad", strings.Repeat("h", 40<<10))
			w.Write([]byte(strings.Repeat("b", 30<<10)))
			return
		case "/fits":
			w.Header().Set("X-Pad", strings.Repeat("h", 10<<10))
			w.Write([]byte(strings.Repeat("b", 30<<10)))
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	allow, _ := outbound.ParseAllow("127.0.0.0/8")
	c := outbound.New(outbound.Config{Allow: allow, MaxBodyBytes: 64 << 10})
	for path, tooLarge := range map[string]bool{"/huge-headers": true, "/headers-and-body": true, "/fits": false, "/": false} {
		res, err := c.Do(context.Background(), outbound.Request{Method: "GET", URL: srv.URL + path})
		if got := errors.Is(err, outbound.ErrTooLarge); got != tooLarge {
			t.Errorf("%s: got %v (%v), want too large: %v", path, err, res != nil, tooLarge)
		}
	}
}

// TestBudgetOfTheCaller: under a caller's deadline, a request ends Reserve before it (ErrBudget, never the caller's
// own deadline), and one that has less than Reserve left is not sent at all; without a deadline the client's
// timeout alone applies.
func TestBudgetOfTheCaller(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer srv.Close()
	allow, _ := outbound.ParseAllow("127.0.0.0/8")
	c := outbound.New(outbound.Config{Allow: allow, Timeout: time.Second, Reserve: 300 * time.Millisecond})

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Do(ctx, outbound.Request{URL: srv.URL})
	took := time.Since(start)
	if !errors.Is(err, outbound.ErrBudget) || ctx.Err() != nil {
		t.Errorf("got %v (the caller's context: %v), want ErrBudget while the caller still has time", err, ctx.Err())
	}
	if took > 400*time.Millisecond {
		t.Errorf("took %s: the budget ends 300 ms before the caller's 500 ms deadline", took)
	}

	before := sent.Load()
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if _, err := c.Do(short, outbound.Request{URL: srv.URL}); !errors.Is(err, outbound.ErrBudget) {
		t.Errorf("with less than the reserve left: %v", err)
	}
	if sent.Load() != before {
		t.Error("a request with no budget left was sent")
	}

	start = time.Now()
	if _, err := c.Do(context.Background(), outbound.Request{URL: srv.URL}); err == nil || errors.Is(err, outbound.ErrBudget) {
		t.Errorf("without a deadline: %v, want the client's timeout", err)
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Errorf("without a deadline the request ran %s, want the 1 s timeout", took)
	}
}
