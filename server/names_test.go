package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/flowbin/flowbin/store/storetest"
)

// named is what the tests read of any action answer: its id and name.
type named struct {
	ID   string  `json:"id"`
	Name *string `json:"name"`
}

func nameOf(a named) string {
	if a.Name == nil {
		return "<absent>"
	}
	return *a.Name
}

// TestActionNames: a name given to an action, or a label sent as its id, is answered everywhere the action is: the
// flow, its revisions, the graph (node name and label, Mermaid), an activeflow's actions and a simulation; an
// action without one has no name field.
func TestActionNames(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		body := `{"name":"named","actions":[
			{"id":"welcome","type":"talk","option":{"text":"hi"}},
			{"name":" Main menu ","type":"digits_receive","option":{"duration":1000}},
			{"type":"hangup"}]}`
		var f struct {
			ID      string  `json:"id"`
			Actions []named `json:"actions"`
		}
		e.as(e.alice, "POST", "/v1.0/flows", body).wantStatus(http.StatusOK).decode(&f)
		want := []string{"welcome", "Main menu", "<absent>"}
		check := func(where string, got []named) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("%s: %d actions, want %d", where, len(got), len(want))
			}
			for i := range want {
				if nameOf(got[i]) != want[i] {
					t.Errorf("%s: action %d name %q, want %q", where, i, nameOf(got[i]), want[i])
				}
			}
		}
		check("create", f.Actions)
		if strings.Contains(f.Actions[0].ID, "welcome") {
			t.Errorf("the label stayed the id: %s", f.Actions[0].ID)
		}

		var got struct {
			Actions []named `json:"actions"`
		}
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusOK).decode(&got)
		check("get", got.Actions)

		// The flow read and written back (names included) makes no new revision.
		var raw json.RawMessage
		res := e.as(e.alice, "GET", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusOK)
		res.decode(&raw)
		res = e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, raw).wantStatus(http.StatusOK)
		if res.header.Get("ETag") != `"r1"` {
			t.Errorf("writing back what was read: ETag %s, want \"r1\"", res.header.Get("ETag"))
		}

		var revs struct {
			Result []struct {
				Actions []named `json:"actions"`
			} `json:"result"`
		}
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/revisions", nil).wantStatus(http.StatusOK).decode(&revs)
		check("revisions", revs.Result[0].Actions)

		var g struct {
			Nodes []struct {
				named
				Label string `json:"label"`
			} `json:"nodes"`
		}
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph", nil).wantStatus(http.StatusOK).decode(&g)
		nodes := make([]named, len(g.Nodes))
		for i, n := range g.Nodes {
			nodes[i] = n.named
		}
		check("graph", nodes)
		if g.Nodes[1].Label != "Main menu" || g.Nodes[2].Label != "hangup" {
			t.Errorf("graph labels %q, %q; want the name, or the type without one", g.Nodes[1].Label, g.Nodes[2].Label)
		}
		mermaid := string(e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph?format=mermaid", nil).wantStatus(http.StatusOK).body)
		if !strings.Contains(mermaid, `a1["1. Main menu"]`) {
			t.Errorf("Mermaid without the name:\n%s", mermaid)
		}

		var act struct {
			ID            string `json:"id"`
			CurrentAction named  `json:"current_action"`
		}
		e.as(e.alice, "POST", "/v1.0/activeflows", `{"flow_id":"`+f.ID+`"}`).wantStatus(http.StatusOK).decode(&act)
		if nameOf(act.CurrentAction) != "welcome" {
			t.Errorf("activeflow current action name %q, want welcome", nameOf(act.CurrentAction))
		}

		var sim struct {
			Executed []named `json:"executed_actions"`
		}
		e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/simulate", `{}`).wantStatus(http.StatusOK).decode(&sim)
		check("simulate", sim.Executed)

		// Too long a name is refused at its pointer.
		long := `{"name":"x","actions":[{"type":"answer","name":"` + strings.Repeat("n", 101) + `"}]}`
		errs := e.as(e.alice, "POST", "/v1.0/flows", long).wantError(http.StatusBadRequest, "INVALID_FIELD")
		if len(errs.Details) == 0 || errs.Details[0].Pointer != "/actions/0/name" {
			t.Errorf("a 101-character name: got %+v", errs)
		}
	})
}
