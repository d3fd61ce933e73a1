package flow

import (
	"strings"
	"testing"
)

func TestMermaidEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<no>`, `#lt;no#gt;`},
		{`#1;`, `#35;1;`},
		{`say "hi" | bye`, `say #quot;hi#quot; #124; bye`},
		{"a & b", "a #amp; b"},
		{"`md`", "#96;md#96;"},
		{"two\nlines\r\nhere", "two lines here"},
		{"#quot;", "#35;quot;"},
	} {
		if got := mermaidEscape(tc.in); got != tc.want {
			t.Errorf("mermaidEscape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestMermaidLabels: text from a flow reaches the chart only as entity codes, in node and in edge labels.
func TestMermaidLabels(t *testing.T) {
	g := Graph{
		Nodes: []Node{{Index: 0, Type: TypeTalk, Label: `talk: <no> #1; "x"`, Reachable: true},
			{Index: 1, Type: TypeBranch, Label: "branch", Reachable: true}},
		Edges: []Edge{{From: 1, To: 0, Kind: EdgeBranch, Label: "<1>"}},
	}
	m := g.Mermaid()
	for _, raw := range []string{"<no>", "#1;", `"x"`, "<1>"} {
		if strings.Contains(m, raw) {
			t.Errorf("the chart holds %q unescaped:\n%s", raw, m)
		}
	}
	for _, want := range []string{"#lt;no#gt; #35;1; #quot;x#quot;", "|#lt;1#gt;|"} {
		if !strings.Contains(m, want) {
			t.Errorf("the chart lacks %q:\n%s", want, m)
		}
	}
}
