package server_test

import (
	"net/http"
	"strings"
	"testing"

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
