package server_test

import (
	"net/http"
	"testing"

	"github.com/flowbin/flowbin/store/storetest"
)

// TestReservedVariablesAsVoIPbin: a client cannot set any voipbin. variable however it writes the name (VoIPbin
// trims and lower-cases the key before it decides), and a runner sets those of voipbin.call under the name flows
// read, and no other.
func TestReservedVariablesAsVoIPbin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		a := e.startActiveflow(e.alice, `{"actions":[{"type":"digits_receive","option":{"duration":1000}},{"type":"talk","option":{"text":"${voipbin.call.digits}"}}],
			"variables":{"VoIPbin.activeflow.id":"spoofed"," voipbin.activeflow.flow_id":"spoofed","VOIPBIN.call.digits":"spoofed","mine":"kept","Voip.other":"kept"}}`)
		for k, v := range a.Variables {
			if v == "spoofed" {
				t.Errorf("the client set %s", k)
			}
		}
		if a.Variables["mine"] != "kept" || a.Variables["Voip.other"] != "kept" || a.Variables["voipbin.activeflow.id"] != a.ID {
			t.Errorf("variables %v", a.Variables)
		}
		var after apiActiveflow
		e.as(e.alice, "POST", "/v1.0/activeflows/"+a.ID+"/next", map[string]any{"current_action_id": a.CurrentAction.ID,
			"variables": map[string]string{" VOIPBIN.Call.Digits ": "42", "VoIPbin.activeflow.id": "spoofed", "runner.own": "x"}}).
			wantStatus(http.StatusOK).decode(&after)
		if after.Variables["voipbin.call.digits"] != "42" || after.Variables["voipbin.activeflow.id"] != a.ID || after.Variables["runner.own"] != "x" {
			t.Errorf("after the report: %v", after.Variables)
		}
		for k := range after.Variables {
			if k == " VOIPBIN.Call.Digits " || k == "VoIPbin.activeflow.id" {
				t.Errorf("a variant of a voipbin. name was kept: %q", k)
			}
		}
		if got := after.ExecutedActions[len(after.ExecutedActions)-1]; string(got.Option) != `{"text":"42"}` { // the talk the report moved to
			t.Errorf("the talk read %s", got.Option)
		}
	})
}
