package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

// The benchmarks of a call's steps through the real handler on PostgreSQL (docs/performance.md): a step at the
// start of a long call and at its 100th step, and a step with and without a customer webhook (the step's events
// written with it). Run them with
//
//	go test ./server/ -run '^$' -bench BenchmarkStep -benchmem -benchtime 200x
//
// Each iteration starts a call and drives it, untimed, to the step it measures. Requests go straight to the
// server, without the contract check of the tests' client.

// longCall answers, then talks 200 times through a goto, then hangs up: every report from the 2nd moves to the
// same goto and talk.
var longCall = map[string]any{"name": "long", "actions": []map[string]any{
	{"type": "answer"},
	{"id": "7d0a3c52-52b6-4ad6-9a7e-4c1d1a0f3b01", "type": "talk", "option": map[string]any{"text": "hello ${caller}, this is a long call that goes on"}},
	{"type": "goto", "option": map[string]any{"target_id": "7d0a3c52-52b6-4ad6-9a7e-4c1d1a0f3b01", "loop_count": 200}},
	{"type": "hangup"},
}}

type benchCall struct {
	e     *env
	token string
}

func (c benchCall) post(b *testing.B, path string, body any) map[string]any {
	raw, err := json.Marshal(body)
	if err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest("POST", c.e.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.e.srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("%s: %d %s %v", path, res.StatusCode, out, err)
	}
	var a map[string]any
	if err := json.Unmarshal(out, &a); err != nil {
		b.Fatal(err)
	}
	return a
}

// report reports the activeflow's current action done.
func (c benchCall) report(b *testing.B, a map[string]any) map[string]any {
	cur := a["current_action"].(map[string]any)
	return c.post(b, fmt.Sprintf("/v1.0/activeflows/%s/next", a["id"]), map[string]any{
		"current_action_id": cur["id"], "step": cur["step"], "variables": map[string]string{"voipbin.call.digits": "1"}})
}

// benchStep measures the report that moves a call of flowID past its report-th runner action.
func benchStep(b *testing.B, c benchCall, flowID any, report int) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := c.post(b, "/v1.0/activeflows", map[string]any{"flow_id": flowID, "variables": map[string]string{"caller": "+15551234567"}})
		for r := 1; r < report; r++ {
			a = c.report(b, a)
		}
		b.StartTimer()
		c.report(b, a)
	}
}

func BenchmarkStep(b *testing.B) {
	e := newEnv(b, storetest.Postgres, func(cfg *server.Config) { cfg.Execution.MaxExecuted = 300 })
	c := benchCall{e: e, token: e.alice.token}
	long := e.createFlow(e.alice, longCall)
	ivr := e.createFlow(e.alice, map[string]any{"name": "ivr", "actions": []map[string]any{
		{"type": "answer"},
		{"type": "talk", "option": map[string]any{"text": "press 1"}},
		{"type": "digits_receive", "option": map[string]any{"duration": 5000, "length": 1}},
		{"type": "branch", "option": map[string]any{"target_ids": map[string]any{"1": "7d0a3c52-52b6-4ad6-9a7e-4c1d1a0f3b02"}}},
		{"id": "7d0a3c52-52b6-4ad6-9a7e-4c1d1a0f3b02", "type": "talk", "option": map[string]any{"text": "sales"}},
		{"type": "hangup"},
	}})
	b.Run("long/1", func(b *testing.B) { benchStep(b, c, long.ID, 1) })
	b.Run("long/100", func(b *testing.B) { benchStep(b, c, long.ID, 100) })
	b.Run("ivr/no-webhook", func(b *testing.B) { benchStep(b, c, ivr.ID, 3) })
	e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": "https://example.com/hooks"}).wantStatus(http.StatusOK)
	b.Run("ivr/webhook", func(b *testing.B) { benchStep(b, c, ivr.ID, 3) })
}
