package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestSlowFetchesEndTheExecutionNot503: four chained fetches, each well inside the outbound timeout, take longer
// together than the API request may: the fetch that would outlive the request's budget ends early, the activeflow
// ends fetch_failed, and the request answers 2xx with it written — never 503. (Issue 24's 4 × 1.5 s under a 5 s
// deadline, shortened: 4 × 300 ms under 1 s, a 200 ms reserve.)
func TestSlowFetchesEndTheExecutionNot503(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		rc := newReceiver(t)
		allow, _ := outbound.ParseAllow("127.0.0.0/8")
		e := newEnv(t, b, func(cfg *server.Config) {
			cfg.RequestTimeout = time.Second
			cfg.Outbound = outbound.New(outbound.Config{Allow: allow, Timeout: 500 * time.Millisecond, Reserve: 200 * time.Millisecond})
		})
		rc.answer = func(r *http.Request, _ int) (int, string) {
			time.Sleep(300 * time.Millisecond)
			var n int
			fmt.Sscanf(r.URL.Path, "/f%d", &n)
			return http.StatusOK, `[{"type":"fetch","option":{"event_url":"` + rc.URL + fmt.Sprintf("/f%d", n+1) + `"}},{"type":"talk","option":{"text":"never"}}]`
		}
		start := time.Now()
		a := e.startActiveflow(e.alice, `{"actions":[{"type":"fetch","option":{"event_url":"`+rc.URL+`/f1"}},{"type":"hangup"}]}`)
		took := time.Since(start)
		if a.EndReason != flow.EndFetchFailed {
			t.Fatalf("ended %q after %s, want %s", a.EndReason, took, flow.EndFetchFailed)
		}
		last := a.ExecutedActions[len(a.ExecutedActions)-1].Decision
		if !strings.Contains(last.Reason, "budget") {
			t.Errorf("the last fetch's decision says why: %+v", last)
		}
		if n := len(rc.requests()); n < 2 || n > 4 {
			t.Errorf("%d fetches were sent, want the chain cut by the budget", n)
		}
		var got apiActiveflow
		e.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusOK).decode(&got)
		if got.EndReason != flow.EndFetchFailed {
			t.Errorf("stored as %q", got.EndReason)
		}
	})
}
