package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/store/storetest"
)

type apiWebhookTest struct {
	ID         string `json:"id"`
	URL        string `json:"url"`
	Method     string `json:"method"`
	Signed     bool   `json:"signed"`
	StatusCode int    `json:"status_code"`
	DurationMS int    `json:"duration_ms"`
	Error      string `json:"error"`
}

// TestCustomerWebhookTest: the test event reaches the customer's webhook at once, signed with the customer's
// secret as every event is; a receiver's refusal is reported in a 200 answer; without a webhook it is 409.
func TestCustomerWebhookTest(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, allowLoopback)
		e.as(e.alice, "POST", "/v1.0/customer/webhook_test", nil).wantError(http.StatusConflict, "WEBHOOK_NOT_SET")

		rc := newReceiver(t)
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": rc.URL + "/hooks", "webhook_method": "PUT"}).
			wantStatus(http.StatusOK)
		var secret struct {
			WebhookSecret string `json:"webhook_secret"`
		}
		e.as(e.alice, "POST", "/v1.0/customer/webhook_secret", nil).wantStatus(http.StatusOK).decode(&secret)

		var got apiWebhookTest
		e.as(e.alice, "POST", "/v1.0/customer/webhook_test", nil).wantStatus(http.StatusOK).decode(&got)
		if got.StatusCode != 200 || got.Error != "" || !got.Signed || got.Method != "PUT" || got.URL != rc.URL+"/hooks" {
			t.Fatalf("answer: %+v", got)
		}
		reqs := rc.requests()
		if len(reqs) != 1 {
			t.Fatalf("the receiver got %d requests, want 1", len(reqs))
		}
		r := reqs[0]
		if r.Method != "PUT" || r.Path != "/hooks" || r.ContentType != "application/json" || r.Header.Get(events.HeaderID) != got.ID {
			t.Errorf("request: %s %s %s id %s", r.Method, r.Path, r.ContentType, r.Header.Get(events.HeaderID))
		}
		err := events.Verify(secret.WebhookSecret, r.Header.Get(events.HeaderID), r.Header.Get(events.HeaderTimestamp),
			r.Header.Get(events.HeaderSignature), r.Body, 5*time.Minute, time.Now())
		if err != nil {
			t.Errorf("signature: %v", err)
		}
		if err := events.VerifyVoIPbin(secret.WebhookSecret, r.Header.Get(events.HeaderVoIPbin), r.Body); err != nil {
			t.Errorf("VoIPbin signature: %v", err)
		}
		var body struct {
			Type string `json:"type"`
			Data struct {
				CustomerID string `json:"customer_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil || body.Type != "webhook_test" || body.Data.CustomerID != e.alice.customerID {
			t.Errorf("body %s (%v)", r.Body, err)
		}

		// A receiver that fails is reported, not an error of the API.
		rc.mu.Lock()
		rc.answer = func(*http.Request, int) (int, string) { return http.StatusInternalServerError, "down" }
		rc.mu.Unlock()
		e.as(e.alice, "POST", "/v1.0/customer/webhook_test", nil).wantStatus(http.StatusOK).decode(&got)
		if got.StatusCode != 500 || got.Error != "answered 500" {
			t.Errorf("a failing receiver: %+v", got)
		}
		// The test is not an event: nothing is queued or listed.
		var list apiEventDeliveries
		e.as(e.alice, "GET", "/v1.0/events", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 0 {
			t.Errorf("the test was listed: %+v", list.Result)
		}
	})
}

// TestCustomerWebhookTestRefused: an address the outbound guard refuses is reported with no status code.
func TestCustomerWebhookTestRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b) // the default guard refuses loopback addresses
		rc := newReceiver(t)
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": rc.URL, "webhook_method": "POST"}).
			wantStatus(http.StatusOK)
		var got apiWebhookTest
		e.as(e.alice, "POST", "/v1.0/customer/webhook_test", nil).wantStatus(http.StatusOK).decode(&got)
		if got.StatusCode != 0 || got.Error == "" || len(rc.requests()) != 0 {
			t.Errorf("a refused address: %+v, %d requests", got, len(rc.requests()))
		}
	})
}

type apiEventDeliveries struct {
	Result []struct {
		ID           string `json:"id"`
		ActiveflowID string `json:"activeflow_id"`
		Type         string `json:"type"`
		State        string `json:"state"`
		AttemptCount int    `json:"attempt_count"`
		Attempts     []struct {
			Attempt int `json:"attempt"`
			Status  int `json:"status"`
		} `json:"attempts"`
		TMCreate string `json:"tm_create"`
	} `json:"result"`
	NextPageToken string `json:"next_page_token"`
}

// TestListEvents: the customer's deliveries of all its activeflows, newest first, paged, each with its attempts;
// another customer sees none of them.
func TestListEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, allowLoopback)
		rc := newReceiver(t)
		rc.answer = func(_ *http.Request, n int) (int, string) {
			if n == 0 {
				return http.StatusServiceUnavailable, "" // the first attempt of all fails: one message tries twice
			}
			return http.StatusOK, ""
		}
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": rc.URL, "webhook_method": "POST"}).
			wantStatus(http.StatusOK)
		var ids []string
		for range 2 {
			e.clock.Advance(time.Second)
			ids = append(ids, e.startActiveflow(e.alice, `{"actions":[{"type":"stop"}]}`).ID)
		}

		var all apiEventDeliveries
		e.as(e.alice, "GET", "/v1.0/events", nil).wantStatus(http.StatusOK).decode(&all)
		if len(all.Result) < 4 {
			t.Fatalf("%d deliveries, want those of two activeflows: %+v", len(all.Result), all.Result)
		}
		for i, m := range all.Result {
			if i > 0 && m.TMCreate > all.Result[i-1].TMCreate {
				t.Errorf("not newest first: %s after %s", m.TMCreate, all.Result[i-1].TMCreate)
			}
			if m.ActiveflowID != ids[0] && m.ActiveflowID != ids[1] {
				t.Errorf("delivery %s of activeflow %s", m.ID, m.ActiveflowID)
			}
			if !strings.HasPrefix(m.Type, "activeflow_") || m.State != "pending" || m.AttemptCount != 0 || m.Attempts == nil {
				t.Errorf("before delivery: %+v", m)
			}
		}
		if all.Result[0].ActiveflowID != ids[1] || all.Result[len(all.Result)-1].ActiveflowID != ids[0] {
			t.Errorf("the newer activeflow's events come first: %+v", all.Result)
		}

		// Paged: page_size 1 walks every delivery once.
		seen := map[string]bool{}
		token := ""
		for range len(all.Result) + 1 {
			var page apiEventDeliveries
			e.as(e.alice, "GET", "/v1.0/events?page_size=1&page_token="+strings.ReplaceAll(token, " ", "%20"), nil).
				wantStatus(http.StatusOK).decode(&page)
			if len(page.Result) == 0 {
				break
			}
			for _, m := range page.Result {
				if seen[m.ID] {
					t.Errorf("delivery %s on two pages", m.ID)
				}
				seen[m.ID] = true
			}
			token = page.NextPageToken
		}
		if len(seen) != len(all.Result) {
			t.Errorf("paging saw %d deliveries, want %d", len(seen), len(all.Result))
		}
		e.as(e.alice, "GET", "/v1.0/events?page_token=yesterday", nil).wantError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")

		var none apiEventDeliveries
		e.as(e.bob, "GET", "/v1.0/events", nil).wantStatus(http.StatusOK).decode(&none)
		if len(none.Result) != 0 || none.NextPageToken != "" {
			t.Errorf("bob sees %+v", none)
		}

		// Delivered, with their attempts: the first one failed, so one delivery shows two.
		e.deliver(t, events.Config{})
		eventually(t, "every delivery delivered", func() bool {
			e.as(e.alice, "GET", "/v1.0/events", nil).wantStatus(http.StatusOK).decode(&all)
			for _, m := range all.Result {
				if m.State != "delivered" {
					return false
				}
			}
			return true
		})
		twice := 0
		for _, m := range all.Result {
			if m.AttemptCount != len(m.Attempts) || m.Attempts[len(m.Attempts)-1].Status != 200 {
				t.Errorf("delivered: %+v", m)
			}
			if len(m.Attempts) == 2 && m.Attempts[0].Status == 503 {
				twice++
			}
		}
		if twice != 1 {
			t.Errorf("%d deliveries show the failed attempt, want 1: %+v", twice, all.Result)
		}
	})
}
