package flow_test

import (
	"context"
	"encoding/json"
	"errors"
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
type fakeOutbound struct {
	send  func(flow.WebhookRequest) (flow.WebhookResponse, error)
	fetch func(flow.FetchRequest) (flow.FetchResult, error)
	sent  []flow.WebhookRequest
}

func (f *fakeOutbound) Send(_ context.Context, r flow.WebhookRequest) (flow.WebhookResponse, error) {
	f.sent = append(f.sent, r)
	if f.send == nil {
		return flow.WebhookResponse{}, errors.New("no receiver")
	}
	return f.send(r)
}

func (f *fakeOutbound) Fetch(_ context.Context, r flow.FetchRequest) (flow.FetchResult, error) {
	if f.fetch == nil {
		return flow.FetchResult{}, errors.New("no receiver")
	}
	return f.fetch(r)
}

func TestFetch(t *testing.T) {
	var asked []flow.FetchRequest
	answers := map[string]flow.FetchResult{
		"https://x/ok":      {Status: 200, Body: []byte(`[{"type":"talk","option":{"text":"fetched"}},{"id":"l","type":"goto","option":{"target_id":"l","loop_count":1}}]`)},
		"https://x/object":  {Status: 200, Body: []byte(`{"actions":[{"type":"beep"}]}`)},
		"https://x/garbage": {Status: 200, Body: []byte(`<html>`)},
		"https://x/invalid": {Status: 200, Body: []byte(`[{"type":"tlak"}]`)},
		"https://x/empty":   {Status: 200, Body: []byte(`[]`)},
		"https://x/500":     {Status: 500},
	}
	e := &flow.Engine{Outbound: &fakeOutbound{fetch: func(r flow.FetchRequest) (flow.FetchResult, error) {
		asked = append(asked, r)
		if r.URL == "https://x/down" {
			return flow.FetchResult{}, errors.New("connection refused")
		}
		return answers[r.URL], nil
	}}}
	x := simulate(t, e, actions(`{"type":"answer"}`, `{"type":"fetch","option":{"event_url":"https://x/ok","event_method":"POST"}}`, `{"type":"hangup"}`), map[string]string{"k": "v"})
	if got := trace(x); got != "answer fetch:fetch talk goto:jump goto:continue hangup" || x.EndReason != flow.EndHangup {
		t.Fatalf("trace %q ending %s", got, x.EndReason)
	}
	if x.Executed[2].Source != "https://x/ok" || !strings.Contains(x.Executed[1].Decision.Reason, "2 actions from POST https://x/ok") {
		t.Errorf("the trace must name the source: %+v %+v", x.Executed[2], x.Executed[1].Decision)
	}
	if !strings.Contains(string(asked[0].Body), `"k":"v"`) || !strings.Contains(string(asked[0].Body), `"activeflow_id"`) {
		t.Errorf("POST body %s", asked[0].Body)
	}
	for url, end := range map[string]string{"https://x/object": flow.EndFinished, "https://x/garbage": flow.EndFetchInvalid,
		"https://x/invalid": flow.EndFetchInvalid, "https://x/empty": flow.EndFetchInvalid, "https://x/500": flow.EndFetchFailed,
		"https://x/down": flow.EndFetchFailed} {
		x := simulate(t, e, actions(`{"type":"fetch","option":{"event_url":"`+url+`"}}`), nil)
		if x.EndReason != end || x.Executed[0].Decision.Reason == "" {
			t.Errorf("%s: ended %s (%+v), want %s", url, x.EndReason, x.Executed[0].Decision, end)
		}
	}
	if asked[len(asked)-1].Method != "GET" || asked[len(asked)-1].Body != nil {
		t.Errorf("GET sends no body: %+v", asked[len(asked)-1])
	}
	// Without a way to fetch (a bare engine), fetch fails cleanly.
	if x := simulate(t, &flow.Engine{}, actions(`{"type":"fetch","option":{"event_url":"https://x/ok"}}`), nil); x.EndReason != flow.EndFetchFailed {
		t.Errorf("no fetcher: %s", x.EndReason)
	}
}

// TestWebhookResponseVariables: a sync webhook_send with response_variable_prefix sets variables from a JSON
// object answer by the documented rule, and nothing from any other answer.
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
