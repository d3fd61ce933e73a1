package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestDeliveriesSignedAndGone: once the customer has a secret, its events and its queued webhook_send both arrive
// with a webhook-id and both signatures (Standard Webhooks' and VoIPbin's X-VoIPBIN-Signature), which a receiver
// verifies and which fail on a tampered body; a webhook_send answered 410 Gone is tried once and listed as gone.
func TestDeliveriesSignedAndGone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, allowLoopback)
		rc := newReceiver(t)
		rc.answer = func(r *http.Request, _ int) (int, string) {
			if r.URL.Path == "/gone" {
				return http.StatusGone, ""
			}
			return http.StatusOK, ""
		}
		var secret struct {
			WebhookSecret string `json:"webhook_secret"`
		}
		e.as(e.alice, "POST", "/v1.0/customer/webhook_secret", nil).wantStatus(http.StatusOK).decode(&secret)
		e.deliver(t, events.Config{})
		a := e.startActiveflow(e.alice, `{"actions":[
			{"type":"webhook_send","option":{"uri":"`+rc.URL+`/hook","data_type":"text/plain","data":"hello ${caller}"}},
			{"type":"webhook_send","option":{"uri":"`+rc.URL+`/gone","data":"bye"}},
			{"type":"talk","option":{"text":"hi"}}],"variables":{"caller":"ana"},"webhook_uri":"`+rc.URL+`/events"}`)

		var list struct {
			Result []struct {
				ID, Type, URL, State string
				Attempts             []struct{ Status int }
			}
		}
		eventually(t, "every message done", func() bool {
			e.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID+"/events", nil).wantStatus(http.StatusOK).decode(&list)
			for _, m := range list.Result {
				if m.State == "pending" {
					return false
				}
			}
			return len(list.Result) == 3
		})
		byPath := map[string]received{}
		for _, r := range rc.requests() {
			byPath[r.Path] = r
			id, ts := r.Header.Get(events.HeaderID), r.Header.Get(events.HeaderTimestamp)
			if err := events.Verify(secret.WebhookSecret, id, ts, r.Header.Get(events.HeaderSignature), r.Body, time.Minute, time.Now()); err != nil {
				t.Errorf("%s: webhook-signature: %v", r.Path, err)
			}
			if err := events.VerifyVoIPbin(secret.WebhookSecret, r.Header.Get(events.HeaderVoIPbin), r.Body); err != nil {
				t.Errorf("%s: X-VoIPBIN-Signature: %v", r.Path, err)
			}
			tampered := append(append([]byte(nil), r.Body...), ' ')
			if events.Verify(secret.WebhookSecret, id, ts, r.Header.Get(events.HeaderSignature), tampered, time.Minute, time.Now()) == nil ||
				events.VerifyVoIPbin(secret.WebhookSecret, r.Header.Get(events.HeaderVoIPbin), tampered) == nil {
				t.Errorf("%s: a tampered body verifies", r.Path)
			}
		}
		if string(byPath["/hook"].Body) != "hello ana" || byPath["/events"].Body == nil {
			t.Errorf("delivered %v", rc.requests())
		}
		for _, m := range list.Result {
			switch m.URL {
			case rc.URL + "/gone":
				if m.State != "gone" || len(m.Attempts) != 1 || m.Attempts[0].Status != 410 {
					t.Errorf("the message answered 410: %+v", m)
				}
			case rc.URL + "/hook":
				if m.State != "delivered" || byPath["/hook"].Header.Get(events.HeaderID) != m.ID {
					t.Errorf("webhook_send %+v, sent as webhook-id %q", m, byPath["/hook"].Header.Get(events.HeaderID))
				}
			}
		}
		gone := 0
		for _, r := range rc.requests() {
			if r.Path == "/gone" {
				gone++
			}
		}
		if gone != 1 {
			t.Errorf("the receiver that answered 410 got %d requests", gone)
		}
	})
}
