package server_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbin/flowbin/store/storetest"
)

// TestStepSideEffectsOnce: runners report one step at once, and the step's next actions send out (a sync
// webhook_send, a fetch). The receiver counts what it gets: one request per step, whoever wins, with and without
// an Idempotency-Key, and the losers answer 409 STALE_ACTION (or, with the winner's key, its answer again).
func TestStepSideEffectsOnce(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, allowLoopback)
		rc := newReceiver(t)
		rc.delay = 150 * time.Millisecond // long enough for every report to arrive while the first is out
		rc.answer = func(r *http.Request, _ int) (int, string) {
			if strings.HasPrefix(r.URL.Path, "/fetch") {
				return http.StatusOK, `[{"type":"talk","option":{"text":"fetched"}}]`
			}
			return http.StatusOK, "ok"
		}
		count := func(prefix string) int {
			n := 0
			for _, r := range rc.requests() {
				if strings.HasPrefix(r.Path, prefix) {
					n++
				}
			}
			return n
		}
		cases := []struct {
			name, action, path string
			key                bool
		}{
			{"webhook_send", `{"type":"webhook_send","option":{"sync":true,"uri":"` + rc.URL + `/pay/${voipbin.activeflow.id}","data":"{}"}}`, "/pay/", false},
			{"webhook_send, one key", `{"type":"webhook_send","option":{"sync":true,"uri":"` + rc.URL + `/paykey/${voipbin.activeflow.id}","data":"{}"}}`, "/paykey/", true},
			{"fetch", `{"type":"fetch","option":{"event_url":"` + rc.URL + `/fetch/${voipbin.activeflow.id}","event_method":"POST"}}`, "/fetch/", false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				a := e.startActiveflow(e.alice, `{"actions":[{"type":"answer"},`+c.action+`,{"type":"hangup"}]}`)
				path := "/v1.0/activeflows/" + a.ID + "/next"
				report := map[string]any{"current_action_id": a.CurrentAction.ID, "step": a.CurrentAction.Step}
				const n = 6
				answers := make([]*response, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var header []string
						if c.key {
							header = []string{"Idempotency-Key", "report-" + a.ID}
						}
						answers[i] = e.withT(t).as(e.alice, "POST", path, report, header...)
					}()
				}
				wg.Wait()
				ok, stale := 0, 0
				var bodies []string
				for _, res := range answers {
					switch res.status {
					case http.StatusOK:
						ok++
						bodies = append(bodies, string(res.body))
					case http.StatusConflict:
						if reason := res.wantError(http.StatusConflict, "STALE_ACTION"); reason.Reason != "STALE_ACTION" {
							t.Errorf("409 %s", reason.Reason)
						}
						stale++
					default:
						t.Errorf("answer %d: %s", res.status, res.body)
					}
				}
				if got := count(c.path + a.ID); got != 1 {
					t.Errorf("the receiver got %d requests of the step, want 1 (answers: %d ok, %d stale)", got, ok, stale)
				}
				switch {
				case c.key && ok != n:
					t.Errorf("with one Idempotency-Key every report gets the first answer: %d of %d", ok, n)
				case !c.key && (ok != 1 || stale != n-1):
					t.Errorf("%d ok and %d stale, want 1 and %d", ok, stale, n-1)
				}
				for _, body := range bodies[1:] {
					if body != bodies[0] {
						t.Errorf("answers differ:\n%s\n%s", bodies[0], body)
					}
				}
				var final apiActiveflow
				e.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusOK).decode(&final)
				wantSteps(t, final)
				if got := simTrace(final.ExecutedActions); !strings.HasPrefix(got, "answer "+strings.Split(c.name, ",")[0]) {
					t.Errorf("trace %q", got)
				}
				// The step is written: the next report goes on from it, and sends nothing again.
				e.next(e.alice, final, nil)
				if got := count(c.path + a.ID); got != 1 {
					t.Errorf("after the next step the receiver has %d requests of the step", got)
				}
			})
		}
	})
}
