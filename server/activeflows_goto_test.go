package server_test

import (
	"net/http"
	"testing"

	"github.com/flowbin/flowbin/store/storetest"
)

// TestActiveflowGotoAfterReload: a goto that first jumps after the execution was stored and read back (its loop
// counts were empty, so not stored) jumps, and counts, instead of failing with a 500.
func TestActiveflowGotoAfterReload(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		var af struct {
			ID            string
			Status        string
			EndReason     string `json:"end_reason"`
			CurrentAction struct {
				ID   string
				Type string
			} `json:"current_action"`
			ExecutedActions []struct {
				Type     string
				Decision *struct{ Reason string }
			} `json:"executed_actions"`
		}
		e.as(e.alice, "POST", "/v1.0/activeflows", `{"actions":[
			{"id":"ask","type":"digits_receive"},
			{"type":"goto","option":{"target_id":"ask","loop_count":1}},
			{"type":"hangup"}]}`).wantStatus(http.StatusOK).decode(&af)
		for i, want := range []string{"digits_receive", "digits_receive", "hangup"} {
			if af.CurrentAction.Type != want {
				t.Fatalf("report %d: current action %s, want %s", i, af.CurrentAction.Type, want)
			}
			e.as(e.alice, "POST", "/v1.0/activeflows/"+af.ID+"/next", `{"current_action_id":"`+af.CurrentAction.ID+`"}`).
				wantStatus(http.StatusOK).decode(&af)
		}
		e.as(e.alice, "GET", "/v1.0/activeflows/"+af.ID, nil).wantStatus(http.StatusOK).decode(&af)
		var gotos []string
		for _, a := range af.ExecutedActions {
			if a.Type == "goto" && a.Decision != nil {
				gotos = append(gotos, a.Decision.Reason)
			}
		}
		if len(gotos) != 2 || gotos[0] != "jump 1 of 1" || gotos[1] != "loop_count 1 reached" {
			t.Errorf("goto decisions %q; want a jump, then loop_count reached", gotos)
		}
	})
}
