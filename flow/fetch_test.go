package flow_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flowbin/flowbin/flow"
)

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
