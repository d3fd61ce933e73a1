package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestWebhookAnswerSetsVariables: a sync webhook_send with response_variable_prefix sets variables from its JSON
// object answer, and the flow reads them; a simulation given the same answer in its script sets the same ones
// and takes the same path.
func TestWebhookAnswerSetsVariables(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, allowLoopback)
		rc := newReceiver(t)
		const answer = `{"name":"Ana","balance":12.5,"vip":true,"orders":[1,2]}`
		rc.answer = func(*http.Request, int) (int, string) { return http.StatusOK, answer }
		f := e.createFlow(e.alice, `{"name":"crm","actions":[
			{"type":"webhook_send","option":{"sync":true,"uri":"`+rc.URL+`/crm","data":"{}","response_variable_prefix":"crm."}},
			{"type":"condition_variable","option":{"variable":"crm.vip","condition":"==","value_type":"string","value_string":"true","false_target_id":"regular"}},
			{"type":"talk","option":{"text":"Welcome back ${crm.name}, your balance is ${crm.balance}"}},
			{"id":"regular","type":"hangup"}]}`)
		a := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
		if a.CurrentAction == nil || a.CurrentAction.Type != "talk" || string(a.CurrentAction.Option) != `{"text":"Welcome back Ana, your balance is 12.5"}` {
			t.Fatalf("current action %+v", a.CurrentAction)
		}
		for k, want := range map[string]string{"crm.name": "Ana", "crm.balance": "12.5", "crm.vip": "true", "crm.orders": ""} {
			if got := a.Variables[k]; got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		d := a.ExecutedActions[0].Decision
		if d == nil || !strings.Contains(d.Reason, "set 3 variables: crm.balance, crm.name, crm.vip (1 members skipped)") {
			t.Errorf("decision %+v", d)
		}

		var sim struct {
			EndReason       string            `json:"end_reason"`
			ExecutedActions []apiExecuted     `json:"executed_actions"`
			Variables       map[string]string `json:"variables"`
		}
		e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/simulate", `{"webhook_responses":[{"status":200,"body":`+answer+`}]}`).
			wantStatus(http.StatusOK).decode(&sim)
		if got := simTrace(sim.ExecutedActions); got != "webhook_send:send condition_variable:continue talk hangup" {
			t.Errorf("simulated %q", got)
		}
		for _, k := range []string{"crm.name", "crm.balance", "crm.vip"} {
			if sim.Variables[k] != a.Variables[k] {
				t.Errorf("simulated %s = %q, real %q", k, sim.Variables[k], a.Variables[k])
			}
		}
		if n := len(rc.requests()); n != 1 {
			t.Errorf("the simulation sent a request: %d in all", n)
		}
		// Without a scripted answer the simulation sends nothing and sets nothing: the other path.
		e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/simulate", `{}`).wantStatus(http.StatusOK).decode(&sim)
		if got := simTrace(sim.ExecutedActions); got != "webhook_send:send condition_variable:jump hangup" || sim.Variables["crm.name"] != "" {
			t.Errorf("simulated without an answer: %q %v", got, sim.Variables)
		}
		e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/simulate", `{"webhook_responses":[{"status":"200"}]}`).wantStatus(http.StatusBadRequest)
	})
}

// TestSyncWebhookSigned: a sync webhook_send carries a webhook-id named by its activeflow and step, and once the
// customer has a secret both signatures (Standard Webhooks' and VoIPbin's X-VoIPBIN-Signature), which a receiver
// verifies and which a tampered body fails.
func TestSyncWebhookSigned(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, allowLoopback)
		rc := newReceiver(t)
		body := `{"type":"webhook_send","option":{"sync":true,"uri":"` + rc.URL + `/pay","data":"{\"amount\":\"${amount}\"}"}}`
		unsigned := e.startActiveflow(e.alice, `{"actions":[`+body+`,{"type":"hangup"}],"variables":{"amount":"10"}}`)
		var secret struct {
			WebhookSecret string `json:"webhook_secret"`
		}
		e.as(e.alice, "POST", "/v1.0/customer/webhook_secret", nil).wantStatus(http.StatusOK).decode(&secret)
		signed := e.startActiveflow(e.alice, `{"actions":[{"type":"answer"},`+body+`,{"type":"hangup"}],"variables":{"amount":"20"}}`)
		e.next(e.alice, signed, nil)

		got := rc.requests()
		if len(got) != 2 {
			t.Fatalf("%d requests", len(got))
		}
		first, second := got[0], got[1]
		if first.Header.Get(events.HeaderID) != uuid.NewSHA1(uuid.MustParse(unsigned.ID), []byte("webhook_send/1")).String() ||
			first.Header.Get(events.HeaderTimestamp) == "" || first.Header.Get(events.HeaderSignature) != "" || first.Header.Get(events.HeaderVoIPbin) != "" {
			t.Errorf("without a secret: %v", first.Header)
		}
		id, ts := second.Header.Get(events.HeaderID), second.Header.Get(events.HeaderTimestamp)
		if id != uuid.NewSHA1(uuid.MustParse(signed.ID), []byte("webhook_send/2")).String() || string(second.Body) != `{"amount":"20"}` {
			t.Errorf("signed request %s %v", second.Body, second.Header)
		}
		if err := events.Verify(secret.WebhookSecret, id, ts, second.Header.Get(events.HeaderSignature), second.Body, time.Minute, time.Now()); err != nil {
			t.Errorf("Standard Webhooks: %v", err)
		}
		if err := events.VerifyVoIPbin(secret.WebhookSecret, second.Header.Get(events.HeaderVoIPbin), second.Body); err != nil {
			t.Errorf("VoIPbin: %v", err)
		}
		tampered := []byte(`{"amount":"2000"}`)
		if events.Verify(secret.WebhookSecret, id, ts, second.Header.Get(events.HeaderSignature), tampered, time.Minute, time.Now()) == nil ||
			events.VerifyVoIPbin(secret.WebhookSecret, second.Header.Get(events.HeaderVoIPbin), tampered) == nil {
			t.Error("a tampered body verifies")
		}
	})
}
