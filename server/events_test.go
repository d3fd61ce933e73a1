package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/internal/apitest"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

// receiver is a customer's system on the loopback address: it records what it is sent and answers as told.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	answer   func(r *http.Request, n int) (status int, body string) // n: how many came before; 302: body is the Location
	inflight map[string]int                                         // requests under way, by webhook-id
	overlap  bool                                                   // a webhook-id was under way twice at once
	delay    time.Duration
	busy     int // requests being answered
}

type received struct {
	Method, Path, ContentType string
	Header                    http.Header
	Body                      []byte
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{inflight: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get(events.HeaderID)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, received{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Clone(), body})
		rc.busy++
		if id != "" {
			rc.inflight[id]++
			if rc.inflight[id] > 1 {
				rc.overlap = true
			}
		}
		answer, delay := rc.answer, rc.delay
		rc.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		status, out := http.StatusOK, ""
		if answer != nil {
			status, out = answer(r, n)
		}
		rc.mu.Lock()
		if id != "" {
			rc.inflight[id]--
		}
		rc.busy--
		rc.mu.Unlock()
		if status == http.StatusFound { // the body is where to
			http.Redirect(w, r, out, status)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, out)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// idle reports whether rc is answering no request.
func (rc *receiver) idle() bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.busy == 0
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// allowLoopback lets the server's outbound client reach the test's receivers.
func allowLoopback(cfg *server.Config) {
	allow, _ := outbound.ParseAllow("127.0.0.0/8")
	cfg.Outbound = outbound.New(outbound.Config{Allow: allow, Timeout: 2 * time.Second, MaxBodyBytes: 64 << 10})
}

// deliver runs a deliverer of the outbox on the env's database, as flowbin's main does, until the test ends.
func (e *env) deliver(t *testing.T, cfg events.Config) {
	t.Helper()
	if cfg.Backoff == 0 {
		cfg.Backoff = 20 * time.Millisecond
	}
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Millisecond
	}
	allow, _ := outbound.ParseAllow("127.0.0.0/8")
	client := outbound.New(outbound.Config{Allow: allow, Timeout: 2 * time.Second})
	d := events.New(cfg, e.st, client, e.server.WebhookSecret, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually waits for cond, for at most 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	apitest.Eventually(t, 10*time.Second, what, cond)
}

// settled waits until the outbox holds nothing to deliver (every message delivered, failed or gone) and rc is
// answering no request: no deliverer can send anything more, so what rc got is all it gets.
func (e *env) settled(t *testing.T, rc *receiver) {
	t.Helper()
	eventually(t, "the outbox to settle", func() bool {
		n, err := e.st.OutboxDepth(context.Background())
		return err == nil && n == 0 && rc.idle()
	})
}

// TestWebhookSend: webhook_send with sync waits for the answer, which its decision reports; without sync it is
// delivered in the background, with retries, and listed with its attempts.
func TestWebhookSend(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, allowLoopback)
		rc := newReceiver(t)
		rc.answer = func(r *http.Request, n int) (int, string) {
			if r.URL.Path == "/async" && n < 3 { // the sync request was the first
				return http.StatusServiceUnavailable, "later"
			}
			return http.StatusAccepted, "ok"
		}
		a := e.startActiveflow(e.alice, `{"actions":[
			{"type":"webhook_send","option":{"sync":true,"uri":"`+rc.URL+`/sync/${caller}","method":"PUT","data_type":"text/plain","data":"hello ${caller}"}},
			{"type":"webhook_send","option":{"uri":"`+rc.URL+`/async","data":"{\"caller\":\"${caller}\"}"}},
			{"type":"talk","option":{"text":"done"}}],"variables":{"caller":"ana"}}`)
		if a.CurrentAction == nil || a.CurrentAction.Type != "talk" {
			t.Fatalf("the webhook_send actions run in the engine: %+v", a)
		}
		sync := a.ExecutedActions[0].Decision
		if sync.Result != "send" || !strings.Contains(sync.Reason, "answered 202") {
			t.Errorf("sync decision %+v", sync)
		}
		if got := rc.requests(); len(got) != 1 || got[0].Method != "PUT" || got[0].Path != "/sync/ana" || string(got[0].Body) != "hello ana" || got[0].ContentType != "text/plain" {
			t.Fatalf("the sync request must be sent before the answer: %+v", got)
		}
		if d := a.ExecutedActions[1].Decision; !strings.Contains(d.Reason, "queued") {
			t.Errorf("async decision %+v", d)
		}
		e.deliver(t, events.Config{})
		eventually(t, "the async webhook", func() bool { return len(rc.requests()) == 4 })
		got := rc.requests()[1:]
		for _, r := range got {
			if r.Path != "/async" || string(r.Body) != `{"caller":"ana"}` || r.Method != "POST" || r.ContentType != "application/json" {
				t.Errorf("async request %+v", r)
			}
		}
		var list struct {
			Result []struct {
				Type, State string
				Attempts    []struct{ Status int }
			}
		}
		eventually(t, "the delivery recorded", func() bool {
			e.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID+"/events", nil).wantStatus(http.StatusOK).decode(&list)
			return len(list.Result) == 1 && list.Result[0].State == "delivered"
		})
		if m := list.Result[0]; m.Type != "webhook_send" || len(m.Attempts) != 3 || m.Attempts[0].Status != 503 || m.Attempts[2].Status != 202 {
			t.Errorf("listed %+v", list.Result)
		}
		e.as(e.bob, "GET", "/v1.0/activeflows/"+a.ID+"/events", nil).wantError(http.StatusNotFound, "ACTIVEFLOW_NOT_FOUND")
		e.settled(t, rc)
		if n := len(rc.requests()); n != 4 {
			t.Errorf("delivered, then sent again: %d requests", n)
		}
	})
}

// TestFetch: fetch runs the actions its URL answers in place; garbage, a redirect to a refused address, a huge
// body and a slow server each end the execution cleanly, with the reason in the trace.
func TestFetch(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		rc := newReceiver(t)
		other := newReceiver(t) // allowed by address: the redirect target is not
		allow, _ := outbound.ParseAllow(strings.TrimPrefix(rc.URL, "http://"))
		e := newEnv(t, b, func(cfg *server.Config) {
			cfg.Outbound = outbound.New(outbound.Config{Allow: allow, Timeout: 500 * time.Millisecond, MaxBodyBytes: 64 << 10})
		})
		rc.answer = func(r *http.Request, _ int) (int, string) {
			switch r.URL.Path {
			case "/menu":
				return 200, `[{"type":"talk","option":{"text":"from ` + r.Method + `"}},{"type":"digits_receive"}]`
			case "/garbage":
				return 200, `<html>not actions</html>`
			case "/invalid":
				return 200, `[{"type":"tlak"}]`
			case "/redirect":
				return http.StatusFound, other.URL + "/menu"
			case "/huge":
				return 200, "[" + strings.Repeat(`{"type":"beep"},`, 10000) + `{"type":"beep"}]`
			case "/slow": // answers only after the client (500 ms) gives up
				select {
				case <-r.Context().Done():
				case <-time.After(2 * time.Second):
				}
			}
			return 404, ""
		}

		a := e.startActiveflow(e.alice, `{"actions":[{"type":"answer"},{"type":"fetch","option":{"event_url":"`+rc.URL+`/menu","event_method":"POST"}},{"type":"hangup"}],"variables":{"caller":"ana"}}`)
		a = e.next(e.alice, a, nil)
		if a.CurrentAction.Type != "talk" || !strings.Contains(string(a.CurrentAction.Option), "from POST") || a.CurrentAction.Source != rc.URL+"/menu" {
			t.Fatalf("the fetched actions run in place: %+v", a.CurrentAction)
		}
		sent := rc.requests()[0]
		if !strings.Contains(string(sent.Body), `"caller":"ana"`) || !strings.Contains(string(sent.Body), a.ID) {
			t.Errorf("fetch sends the execution's id and variables: %s", sent.Body)
		}
		a = e.drive(e.alice, a, "1")
		if simTrace(a.ExecutedActions) != "answer fetch:fetch talk digits_receive hangup" || a.EndReason != "hangup" {
			t.Errorf("after the fetched actions, back to the flow: %q ending %s", simTrace(a.ExecutedActions), a.EndReason)
		}
		for path, end := range map[string]string{"/garbage": flow.EndFetchInvalid, "/invalid": flow.EndFetchInvalid,
			"/redirect": flow.EndFetchFailed, "/huge": flow.EndFetchFailed, "/slow": flow.EndFetchFailed, "/missing": flow.EndFetchFailed} {
			a := e.startActiveflow(e.alice, `{"actions":[{"type":"fetch","option":{"event_url":"`+rc.URL+path+`"}},{"type":"hangup"}]}`)
			if a.EndReason != end || a.ExecutedActions[0].Decision.Result != "end" || a.ExecutedActions[0].Decision.Reason == "" {
				t.Errorf("%s: ended %s: %+v", path, a.EndReason, a.ExecutedActions[0].Decision)
			}
		}
		if n := len(other.requests()); n != 0 {
			t.Errorf("the redirect reached a refused address %d times", n)
		}
	})
}

// TestOutboundGuard: without FLOWBIN_OUTBOUND_ALLOW, loopback, private and link-local addresses are refused, and
// the refusal never fails the request that caused it.
func TestOutboundGuard(t *testing.T) {
	e := newEnv(t, storetest.SQLite) // the default client: nothing allowed
	for _, url := range []string{"http://127.0.0.1:9/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/"} {
		a := e.startActiveflow(e.alice, `{"actions":[{"type":"webhook_send","option":{"sync":true,"uri":"`+url+`"}},{"type":"fetch","option":{"event_url":"`+url+`"}}]}`)
		send, fetch := a.ExecutedActions[0].Decision, a.ExecutedActions[1].Decision
		if !strings.Contains(send.Reason, "not a public address") || a.EndReason != flow.EndFetchFailed || !strings.Contains(fetch.Reason, "not a public address") {
			t.Errorf("%s: %+v / %+v ended %s", url, send, fetch, a.EndReason)
		}
	}
}

// TestOnCompleteChain: when an activeflow ends, its on_complete_flow_id starts with its variables, linked both
// ways; a chain holds at most 5 activeflows, and the refused 6th is recorded.
func TestOnCompleteChain(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		// Six flows, each naming the next: f0 → f1 → … → f5. Each sets a variable and ends at once, but f0,
		// which waits for the runner.
		ids := make([]string, 6)
		for i := 5; i >= 0; i-- {
			body := map[string]any{"name": "link", "actions": []any{
				map[string]any{"type": "variable_set", "option": map[string]any{"key": "seen", "value": "${seen}" + string(rune('0'+i))}}}}
			if i == 0 {
				body["actions"] = append(body["actions"].([]any), map[string]any{"type": "talk", "option": map[string]any{"text": "hi"}})
			}
			if i < 5 {
				body["on_complete_flow_id"] = ids[i+1]
			}
			ids[i] = e.createFlow(e.alice, body).ID
		}
		a := e.startActiveflow(e.alice, `{"flow_id":"`+ids[0]+`","variables":{"caller":"ana"}}`)
		if a.OnCompleteFlowID != ids[1] {
			t.Fatalf("the flow's on_complete_flow_id: %+v", a)
		}
		a = e.next(e.alice, a, map[string]string{"voipbin.call.digits": "7"})
		chain := []apiActiveflow{a}
		for i := 1; chain[i-1].OnCompleteActiveflowID != ""; i++ {
			var next apiActiveflow
			e.as(e.alice, "GET", "/v1.0/activeflows/"+chain[i-1].OnCompleteActiveflowID, nil).wantStatus(http.StatusOK).decode(&next)
			if next.ReferenceActiveflowID != chain[i-1].ID || next.FlowID != ids[i] {
				t.Errorf("link %d: %+v", i, next)
			}
			if want := "0123456"[:i+1]; next.Variables["seen"] != want || next.Variables["caller"] != "ana" ||
				next.Variables["voipbin.call.digits"] != "7" || next.Variables["voipbin.activeflow.id"] != next.ID ||
				next.Variables["voipbin.activeflow.reference_activeflow_id"] != chain[i-1].ID {
				t.Errorf("link %d variables: %v", i, next.Variables)
			}
			chain = append(chain, next)
		}
		if len(chain) != 5 {
			t.Fatalf("the chain holds %d activeflows, want 5", len(chain))
		}
		last := chain[4]
		if last.Status != "ended" || last.OnCompleteFlowID != ids[5] || !strings.Contains(last.OnCompleteError, "at most 5") {
			t.Errorf("the 6th link must be refused and recorded: %+v", last)
		}
		// An activeflow's own on_complete_flow_id wins over its flow's; a deleted flow is recorded too.
		e.as(e.alice, "DELETE", "/v1.0/flows/"+ids[3], nil).wantStatus(http.StatusNoContent)
		a = e.startActiveflow(e.alice, `{"actions":[{"type":"stop"}],"on_complete_flow_id":"`+ids[2]+`"}`)
		var b2 apiActiveflow
		e.as(e.alice, "GET", "/v1.0/activeflows/"+a.OnCompleteActiveflowID, nil).wantStatus(http.StatusOK).decode(&b2)
		if b2.FlowID != ids[2] || !strings.Contains(b2.OnCompleteError, "does not exist") {
			t.Errorf("the deleted successor: %+v", b2)
		}
	})
}

// TestVoIPbinActiveflowCreateFields: VoIPbin's SDK sends id, webhook_uri and webhook_method; an id that is
// taken answers 409, and the activeflow's events go to its webhook_uri.
func TestVoIPbinActiveflowCreateFields(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, allowLoopback)
		rc := newReceiver(t)
		e.deliver(t, events.Config{})
		f := e.createFlow(e.alice, `{"name":"f","actions":[{"type":"talk","option":{"text":"hi"}}]}`)
		const id = "0b6b8a4e-3c59-4e36-a4a3-6a4b2c9a0aaa"
		a := e.startActiveflow(e.alice, `{"id":"`+id+`","flow_id":"`+f.ID+`","webhook_uri":"`+rc.URL+`/events","webhook_method":"PUT"}`)
		if a.ID != id || a.WebhookURI != rc.URL+"/events" || a.WebhookMethod != "PUT" {
			t.Fatalf("created %+v", a)
		}
		e.as(e.alice, "POST", "/v1.0/activeflows", `{"id":"`+id+`","flow_id":"`+f.ID+`"}`).wantError(http.StatusConflict, "ALREADY_EXISTS")
		e.as(e.alice, "POST", "/v1.0/activeflows", `{"flow_id":"`+f.ID+`","webhook_uri":"ftp://x"}`).wantError(http.StatusBadRequest, "INVALID_FIELD")
		e.next(e.alice, a, nil)
		e.as(e.alice, "DELETE", "/v1.0/activeflows/"+id, nil).wantStatus(http.StatusNoContent)
		// created, updated (talk), updated (ended: the report finished it), deleted.
		eventually(t, "four events", func() bool { return len(rc.requests()) == 4 })
		types := map[string]bool{}
		for i, r := range rc.requests() {
			var ev struct {
				Type string
				Data apiActiveflow
			}
			if err := json.Unmarshal(r.Body, &ev); err != nil || ev.Data.ID != id || r.Method != "PUT" || r.Header.Get(events.HeaderID) == "" {
				t.Errorf("event %d: %s %s %v", i, r.Method, r.Body, err)
			}
			types[ev.Type] = true
		}
		if !types["activeflow_created"] || !types["activeflow_updated"] || !types["activeflow_deleted"] {
			t.Errorf("events %v", types)
		}
	})
}

// TestEventsSurviveADeadInstance: events committed while no instance delivers (one was killed between commit
// and delivery) are delivered by the next; a message an instance claimed and never finished (killed mid-send) is
// delivered by another once its lease ends.
func TestEventsSurviveADeadInstance(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, allowLoopback)
		rc := newReceiver(t)
		for range 3 {
			e.startActiveflow(e.alice, `{"actions":[{"type":"talk","option":{"text":"hi"}}],"webhook_uri":"`+rc.URL+`/events"}`)
		}
		// An instance claims the first message and dies before sending it.
		claimed, err := e.st.ClaimOutbox(context.Background(), time.Now(), 300*time.Millisecond, 1)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		// No deliverer runs yet (the server delivers nothing itself): nothing may have been sent while starting.
		if n := len(rc.requests()); n != 0 {
			t.Fatalf("nothing delivers yet, but %d requests arrived", n)
		}
		// Another instance (or the same one, restarted) delivers all six (created and updated of each): the claimed
		// one after its lease.
		e.deliver(t, events.Config{})
		eventually(t, "six events", func() bool { return len(rc.requests()) == 6 })
		ids := map[string]bool{}
		for _, r := range rc.requests() {
			ids[r.Header.Get(events.HeaderID)] = true
		}
		if len(ids) != 6 || !ids[claimed[0].ID.String()] {
			t.Errorf("delivered %v; the claimed message was %s", ids, claimed[0].ID)
		}
	})
}

// TestEventsOneDelivererAtATime: two instances on one PostgreSQL database deliver a burst of events between
// them, never the same message at once, and each message once.
func TestEventsOneDelivererAtATime(t *testing.T) {
	e := newEnv(t, storetest.Postgres, allowLoopback)
	second := e.secondInstance(t, server.Config{})
	rc := newReceiver(t)
	rc.delay = 20 * time.Millisecond
	const n = 40 // messages: created and updated (talk) of each start
	for range n / 2 {
		e.startActiveflow(e.alice, `{"actions":[{"type":"talk","option":{"text":"hi"}}],"webhook_uri":"`+rc.URL+`/events"}`)
	}
	e.deliver(t, events.Config{Batch: 4})
	second.deliver(t, events.Config{Batch: 4})
	eventually(t, "every event", func() bool { return len(rc.requests()) >= n })
	e.settled(t, rc)
	seen := map[string]int{}
	for _, r := range rc.requests() {
		seen[r.Header.Get(events.HeaderID)]++
	}
	rc.mu.Lock()
	overlap := rc.overlap
	rc.mu.Unlock()
	if overlap || len(seen) != n || len(rc.requests()) != n {
		t.Errorf("%d requests for %d messages; one sent twice at once: %v", len(rc.requests()), len(seen), overlap)
	}
}

// TestSignedEventsAfterRetries: the customer's webhook gets every event of its activeflows, signed as Standard
// Webhooks says with the secret it was shown once; a receiver that fails twice and then answers 200 gets each
// event exactly once after the retries, under the same webhook-id.
func TestSignedEventsAfterRetries(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		rc := newReceiver(t)
		var mu sync.Mutex
		tries := map[string]int{}
		accepted := map[string][]byte{}
		rc.answer = func(r *http.Request, _ int) (int, string) {
			mu.Lock()
			defer mu.Unlock()
			id := r.Header.Get(events.HeaderID)
			tries[id]++
			if tries[id] <= 2 {
				return http.StatusServiceUnavailable, ""
			}
			body, _ := json.Marshal(map[string]any{"accepted": id})
			accepted[id] = rc.requests()[len(rc.requests())-1].Body
			return http.StatusOK, string(body)
		}
		var c struct {
			WebhookURI    string `json:"webhook_uri"`
			WebhookMethod string `json:"webhook_method"`
		}
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": rc.URL + "/hooks", "webhook_method": "POST", "name": "ignored"}).
			wantStatus(http.StatusOK).decode(&c)
		if c.WebhookURI != rc.URL+"/hooks" || c.WebhookMethod != "POST" {
			t.Fatalf("customer %+v", c)
		}
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": "ftp://nope"}).wantError(http.StatusBadRequest, "INVALID_FIELD")
		var secret struct {
			WebhookSecret string `json:"webhook_secret"`
		}
		e.as(e.alice, "POST", "/v1.0/customer/webhook_secret", nil).wantStatus(http.StatusOK).decode(&secret)
		if !strings.HasPrefix(secret.WebhookSecret, "whsec_") {
			t.Fatalf("secret %q", secret.WebhookSecret)
		}
		e.deliver(t, events.Config{})
		a := e.drive(e.alice, e.startActiveflow(e.alice, `{"actions":[{"type":"answer"},{"type":"hangup"}]}`), "")
		e.startActiveflow(e.bob, `{"actions":[{"type":"answer"}]}`) // bob has no webhook: nothing for anyone
		// created, updated (answer), updated (hangup), updated (ended).
		eventually(t, "four events accepted", func() bool { mu.Lock(); defer mu.Unlock(); return len(accepted) == 4 })
		e.settled(t, rc) // no more attempts come after a 200
		if n := len(rc.requests()); n != 12 {
			t.Errorf("%d requests, want 3 attempts of each of 4 events", n)
		}
		types := map[string]int{}
		for _, r := range rc.requests() {
			id, ts, sig := r.Header.Get(events.HeaderID), r.Header.Get(events.HeaderTimestamp), r.Header.Get(events.HeaderSignature)
			if err := events.Verify(secret.WebhookSecret, id, ts, sig, r.Body, time.Minute, time.Now()); err != nil {
				t.Errorf("%s: %v", id, err)
			}
			var ev struct {
				Type string
				Data apiActiveflow
			}
			if err := json.Unmarshal(r.Body, &ev); err != nil || ev.Data.ID != a.ID {
				t.Errorf("event %s: %v", r.Body, err)
			}
			types[ev.Type]++
		}
		if types["activeflow_created"] != 3 || types["activeflow_updated"] != 9 {
			t.Errorf("events by type (3 attempts each): %v", types)
		}
		var list struct {
			Result []struct {
				State    string
				Attempts []struct{ Status int }
			}
		}
		e.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID+"/events", nil).wantStatus(http.StatusOK).decode(&list)
		for _, m := range list.Result {
			if m.State != "delivered" || len(m.Attempts) != 3 || m.Attempts[0].Status != 503 || m.Attempts[2].Status != 200 {
				t.Errorf("listed %+v", m)
			}
		}
		// A new secret replaces the old one at once.
		var rotated struct {
			WebhookSecret string `json:"webhook_secret"`
		}
		e.as(e.alice, "POST", "/v1.0/customer/webhook_secret", nil).wantStatus(http.StatusOK).decode(&rotated)
		before := len(rc.requests())
		e.startActiveflow(e.alice, `{"actions":[{"type":"answer"}]}`)
		eventually(t, "the next event", func() bool { return len(rc.requests()) > before })
		r := rc.requests()[before]
		if err := events.Verify(rotated.WebhookSecret, r.Header.Get(events.HeaderID), r.Header.Get(events.HeaderTimestamp),
			r.Header.Get(events.HeaderSignature), r.Body, time.Minute, time.Now()); err != nil || rotated.WebhookSecret == secret.WebhookSecret {
			t.Errorf("after rotation: %v", err)
		}
		if events.Verify(secret.WebhookSecret, r.Header.Get(events.HeaderID), r.Header.Get(events.HeaderTimestamp),
			r.Header.Get(events.HeaderSignature), r.Body, time.Minute, time.Now()) == nil {
			t.Error("the old secret must no longer verify")
		}
	})
}
