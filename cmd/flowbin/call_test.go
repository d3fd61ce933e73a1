package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCallReportsStep: flowbin call reports the action it finished with its id and, when the server numbers steps,
// the step, with the digits read from the keyboard.
func TestCallReportsStep(t *testing.T) {
	var reports []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer key-1" {
			http.Error(w, `{"error":{"reason":"AUTHENTICATION_REQUIRED","message":"no"}}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1.0/activeflows":
			io.WriteString(w, `{"id":"af-1","status":"running","end_reason":"",
				"current_action":{"id":"a-2","type":"digits_receive","step":2,"option":{"length":1}},
				"executed_actions":[{"id":"a-1","type":"answer","step":1},{"id":"a-2","type":"digits_receive","step":2}]}`)
		case "/v1.0/activeflows/af-1/next":
			var body map[string]any
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				t.Error(err)
			}
			reports = append(reports, body)
			io.WriteString(w, `{"id":"af-1","status":"ended","end_reason":"finished",
				"executed_actions":[{"id":"a-1","type":"answer","step":1},{"id":"a-2","type":"digits_receive","step":2},
				{"id":"a-3","type":"branch","step":3,"decision":{"result":"jump","reason":"voipbin.call.digits is \"7\""}}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	env := map[string]string{"FLOWBIN_SERVER": srv.URL, "FLOWBIN_TOKEN": "key-1"}
	var out bytes.Buffer
	err := run(context.Background(), []string{"call", "0f9c1e2a-3b4c-4d5e-8f90-a1b2c3d4e5f6"}, func(k string) string { return env[k] },
		strings.NewReader("7\n"), &out, io.Discard)
	if err != nil {
		t.Fatalf("call: %v\n%s", err, out.String())
	}
	want := map[string]any{"current_action_id": "a-2", "step": float64(2), "variables": map[string]any{"voipbin.call.digits": "7"}}
	if len(reports) != 1 || !equalJSON(reports[0], want) {
		t.Errorf("reports %v; want one: %v", reports, want)
	}
	for _, line := range []string{"  1. answer ", "  2. digits_receive   waits for digits (1)", `  3. branch           voipbin.call.digits is "7"`, "call ended: finished (3 actions)"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestCallSendsWhatAPhoneSends: the call starts with the --var variables; at a digits_receive it sends at most the
// action's length keys, and stops at its key (sent), as a phone would; keys that are no keypad's are skipped.
func TestCallSendsWhatAPhoneSends(t *testing.T) {
	for _, c := range []struct {
		option, typed, want string
	}{
		{`{"length":3}`, "12345", "123"},
		{`{"key":"#"}`, "12#45", "12#"},
		{`{"length":4,"key":"#"}`, "1#23", "1#"},
		{`{"length":2,"key":"#"}`, "9 x*8#", "9*"},
		{`{}`, " 0a*# ", "0A*#"},
	} {
		t.Run(c.typed, func(t *testing.T) {
			var start, next map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch r.URL.Path {
				case "/v1.0/activeflows":
					json.NewDecoder(r.Body).Decode(&start)
					io.WriteString(w, `{"id":"af-1","status":"running",
						"current_action":{"id":"a-1","type":"digits_receive","step":1,"option":`+c.option+`},
						"executed_actions":[{"id":"a-1","type":"digits_receive","step":1}]}`)
				case "/v1.0/activeflows/af-1/next":
					json.NewDecoder(r.Body).Decode(&next)
					io.WriteString(w, `{"id":"af-1","status":"ended","end_reason":"finished",
						"executed_actions":[{"id":"a-1","type":"digits_receive","step":1}]}`)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			var out bytes.Buffer
			err := run(context.Background(), []string{"call", "--server", srv.URL, "--token", "key-1",
				"--var", "customer.tier=gold", "--var", "empty=", "--var", "with=equals=sign", "0f9c1e2a-3b4c-4d5e-8f90-a1b2c3d4e5f6"},
				func(string) string { return "" }, strings.NewReader(c.typed+"\n"), &out, io.Discard)
			if err != nil {
				t.Fatalf("call: %v\n%s", err, out.String())
			}
			wantVars := map[string]any{"customer.tier": "gold", "empty": "", "with": "equals=sign"}
			if !equalJSON(start["variables"], wantVars) {
				t.Errorf("start variables %v, want %v", start["variables"], wantVars)
			}
			if got := next["variables"].(map[string]any)["voipbin.call.digits"]; got != c.want {
				t.Errorf("typed %q with %s: sent %q, want %q", c.typed, c.option, got, c.want)
			}
		})
	}
	for _, bad := range [][]string{{"call", "--var", "no-equals", "x"}, {"call", "--var", "=v", "x"}, {"call"}, {"call", "a", "b"}} {
		err := run(context.Background(), bad, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		var usage usageError
		if !errors.As(err, &usage) {
			t.Errorf("%v: got %v, want a usage error", bad, err)
		}
	}
}
