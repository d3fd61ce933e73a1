package flow_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// TestActionName: an action's name is stored trimmed, a label sent as the id becomes the name when none is given,
// and a name that is too long or not a string is an error at its pointer.
func TestActionName(t *testing.T) {
	ns := uuid.MustParse("93993ae1-0408-4639-ad5f-1288aa8d4325")
	given := "9461bda1-54fd-4e27-ab04-4186c6f72830"
	cases := []struct {
		name, action string
		want         string
		errPointer   string
	}{
		{"explicit", `{"type":"answer","name":"  Welcome  "}`, "Welcome", ""},
		{"label becomes the name", `{"id":"main-menu","type":"answer"}`, "main-menu", ""},
		{"the name wins over the label", `{"id":"m1","name":"Main menu","type":"answer"}`, "Main menu", ""},
		{"blank name: the label", `{"id":"m1","name":"   ","type":"answer"}`, "m1", ""},
		{"a UUID id is no name", `{"id":"` + given + `","type":"answer"}`, "", ""},
		{"no id, no name", `{"type":"answer"}`, "", ""},
		{"null name", `{"type":"answer","name":null}`, "", ""},
		{"100 characters", `{"type":"answer","name":"` + strings.Repeat("é", 100) + `"}`, strings.Repeat("é", 100), ""},
		{"101 characters", `{"type":"answer","name":"` + strings.Repeat("x", 101) + `"}`, "", "/actions/0/name"},
		{"not a string", `{"type":"answer","name":7}`, "", "/actions/0/name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			def, rep := flow.Parse([]byte(`{"actions":[`+c.action+`]}`), flow.Limits{Namespace: ns})
			if c.errPointer != "" {
				if rep.Valid() || rep.Errors[0].Pointer != c.errPointer || rep.Errors[0].Reason != flow.ReasonInvalidField {
					t.Fatalf("got %+v, want an %s error at %s", rep.Errors, flow.ReasonInvalidField, c.errPointer)
				}
				return
			}
			if !rep.Valid() {
				t.Fatalf("errors %+v", rep.Errors)
			}
			if got := def.Actions[0].Name; got != c.want {
				t.Errorf("name: got %q, want %q", got, c.want)
			}
			// Both encodings of an action agree, and leave out an empty name.
			fast := flow.AppendActions(nil, def.Actions)
			std, _ := json.Marshal(def.Actions)
			if string(fast) != string(std) {
				t.Errorf("AppendActions %s, json.Marshal %s", fast, std)
			}
			if c.want == "" && strings.Contains(string(fast), `"name"`) {
				t.Errorf("an empty name is written: %s", fast)
			}
		})
	}
}

// TestActionNameInGraph: a named action is labelled by its name in the graph, Mermaid and DOT; others keep the
// summary of their type and options.
func TestActionNameInGraph(t *testing.T) {
	def, rep := flow.Parse([]byte(`{"actions":[{"id":"hello","type":"talk","option":{"text":"hi"}},
		{"type":"talk","option":{"text":"bye"}}]}`), flow.Limits{Namespace: uuid.New()})
	if !rep.Valid() {
		t.Fatal(rep.Errors)
	}
	g := flow.NewGraph(def.Actions)
	if g.Nodes[0].Name != "hello" || g.Nodes[0].Label != "hello" || g.Nodes[1].Name != "" || g.Nodes[1].Label != "talk: bye" {
		t.Errorf("nodes: got %+v", g.Nodes)
	}
	if m := g.Mermaid(); !strings.Contains(m, `a0["0. hello"]`) {
		t.Errorf("Mermaid:\n%s", m)
	}
	if d := g.Dot(); !strings.Contains(d, `label="0. hello"`) {
		t.Errorf("DOT:\n%s", d)
	}
}
