package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/flowbin/flowbin/flow"
)

func TestWebhookSend(t *testing.T) {
	out := &fakeOutbound{send: func(r flow.WebhookRequest) (flow.WebhookResponse, error) {
		return flow.WebhookResponse{Status: 202}, nil
	}}
	e := &flow.Engine{Outbound: out}
	x := flow.NewExecution(flow.Origin{}, mustActions(t, actions(
		`{"type":"webhook_send","option":{"sync":true,"uri":"https://example.com/${who}","method":"PUT","data_type":"text/plain","data":"hi ${who}"}}`,
		`{"type":"webhook_send","option":{"uri":"https://example.com/async","data":"{\"a\":1}"}}`,
		`{"type":"hangup"}`)), map[string]string{"who": "ana"})
	st, err := e.Start(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	if got := trace(x); got != "webhook_send:send webhook_send:send hangup" {
		t.Fatalf("trace %q", got)
	}
	// The sync one is sent through Outbound; the other comes back in the step, queued, and nothing sends it.
	sync := flow.WebhookRequest{URI: "https://example.com/ana", Method: "PUT", DataType: "text/plain", Data: "hi ana", Sync: true, Step: 1}
	queued := flow.WebhookRequest{URI: "https://example.com/async", Method: "POST", DataType: "application/json", Data: `{"a":1}`, Step: 2}
	if len(out.sent) != 1 || out.sent[0] != sync {
		t.Errorf("sent %+v\nwant %+v", out.sent, sync)
	}
	if len(st.Queued) != 1 || st.Queued[0] != queued {
		t.Errorf("queued %+v\nwant %+v", st.Queued, queued)
	}
	if len(st.Executed) != 3 || st.Ended {
		t.Errorf("the step executed %d actions (want 3: two webhooks and the hangup handed over), ended %v", len(st.Executed), st.Ended)
	}
	if got := x.Executed[0].Decision.Reason; !strings.HasPrefix(got, "PUT https://example.com/ana answered 202 in ") {
		t.Errorf("decision %q", got)
	}
	if got := x.Executed[1].Decision.Reason; got != "queued for delivery: POST https://example.com/async" {
		t.Errorf("decision %q", got)
	}
}

// fakeOutbound answers with its functions, and notes what it was asked.
func TestWebhookResponseVariables(t *testing.T) {
	many := map[string]int{}
	for i := range flow.MaxResponseVariables + 3 {
		many[fmt.Sprintf("k%02d", i)] = i
	}
	manyBody, _ := json.Marshal(many)
	cases := []struct {
		name   string
		status int
		body   string
		prefix string
		want   map[string]string // the variables of the prefix after the step
		reason string            // in the decision
	}{
		{"members", 200, `{"name":"Ana","balance":12.50,"vip":true,"no":false,"n":-3e2,"nested":{"a":1},"list":[1],"none":null}`, "crm.",
			map[string]string{"crm.name": "Ana", "crm.balance": "12.50", "crm.vip": "true", "crm.no": "false", "crm.n": "-3e2"},
			"set 5 variables: crm.balance, crm.n, crm.name, crm.no, crm.vip (3 members skipped)"},
		{"any 2xx", 201, ` {"a":"1"} `, "x_", map[string]string{"x_a": "1"}, "set 1 variables: x_a"},
		{"not 2xx", 500, `{"a":"1"}`, "x_", map[string]string{}, "no variables: the answer is not 2xx"},
		{"not an object", 200, `["a"]`, "x_", map[string]string{}, "no variables: the answer is not a JSON object"},
		{"not JSON", 200, `ok`, "x_", map[string]string{}, "no variables: the answer is not a JSON object"},
		{"no prefix", 200, `{"a":"1"}`, "", map[string]string{}, "answered 200"},
		{"reserved names", 200, `{"call.digits":"9","activeflow.id":"x","ok":"1"}`, "VoIPbin.", map[string]string{}, "set 0 variables (3 members skipped)"},
		{"at most 32", 200, string(manyBody), "m.", nil, fmt.Sprintf("set %d variables", flow.MaxResponseVariables)},
		{"past the limits", 200, `{"big":"` + strings.Repeat("x", 5000) + `"}`, "x_", map[string]string{}, "no variables: the answer's 1 would pass the variable limits"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := &fakeOutbound{send: func(flow.WebhookRequest) (flow.WebhookResponse, error) {
				return flow.WebhookResponse{Status: c.status, Body: []byte(c.body)}, nil
			}}
			opt, _ := json.Marshal(map[string]any{"sync": true, "uri": "https://example.com/crm", "response_variable_prefix": c.prefix})
			e := &flow.Engine{Outbound: out, Limits: flow.Limits{MaxVariableBytes: 1024}}
			x := flow.NewExecution(flow.Origin{}, mustActions(t, actions(`{"type":"webhook_send","option":`+string(opt)+`}`, `{"type":"hangup"}`)), nil)
			if _, err := e.Start(context.Background(), x); err != nil {
				t.Fatal(err)
			}
			if d := x.Executed[0].Decision; d.Result != "send" || !strings.Contains(d.Reason, c.reason) {
				t.Errorf("decision %+v, want %q in its reason", d, c.reason)
			}
			got := map[string]string{}
			for k, v := range x.Variables {
				if !strings.HasPrefix(k, "voipbin.activeflow.") {
					got[k] = v
				}
			}
			if c.want == nil {
				if len(got) != flow.MaxResponseVariables || got["m.k00"] != "0" || got["m.k31"] != "31" || got["m.k32"] != "" {
					t.Errorf("got %d variables: %v", len(got), got)
				}
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("variables %v, want %v", got, c.want)
			}
		})
	}
}
