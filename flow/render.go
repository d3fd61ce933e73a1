package flow

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// NewGraph builds the graph of an action list.
func NewGraph(actions []Action) Graph {
	reach := Reachable(actions)
	g := Graph{Nodes: make([]Node, len(actions)), Edges: Edges(actions)}
	for i, a := range actions {
		g.Nodes[i] = Node{ID: a.ID.String(), Index: i, Type: a.Type, Name: a.Name, Label: cmp.Or(a.Name, summary(a)),
			Reachable: reach[i]}
	}
	if g.Edges == nil {
		g.Edges = []Edge{}
	}
	return g
}

// summary is a short label of an action: its type and the option that matters most, as its type labels it.
func summary(a Action) string {
	detail := ""
	if t, ok := catalog.byType[a.Type]; ok && t.label != nil {
		var o map[string]any
		_ = json.Unmarshal(a.Option, &o)
		detail = strings.TrimSpace(t.label(o))
	}
	if utf8.RuneCountInString(detail) > 32 {
		detail = string([]rune(detail)[:31]) + "…"
	}
	if detail == "" {
		return string(a.Type)
	}
	return string(a.Type) + ": " + detail
}

// Mermaid renders the graph as a Mermaid flowchart. Unreachable actions are dashed and grey.
func (g Graph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	b.WriteString("  start((start))\n")
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  a%d[\"%d. %s\"]\n", n.Index, n.Index, mermaidEscape(n.Label))
	}
	if len(g.Nodes) > 0 {
		b.WriteString("  start --> a0\n")
	}
	for _, e := range g.Edges {
		if label := edgeLabel(e); label != "" {
			fmt.Fprintf(&b, "  a%d -->|%s| a%d\n", e.From, mermaidEscape(label), e.To)
		} else {
			fmt.Fprintf(&b, "  a%d --> a%d\n", e.From, e.To)
		}
	}
	b.WriteString("  classDef unreachable fill:#eee,stroke:#999,stroke-dasharray:4 3,color:#777\n")
	for _, n := range g.Nodes {
		if !n.Reachable {
			fmt.Fprintf(&b, "  class a%d unreachable\n", n.Index)
		}
	}
	return b.String()
}

// mermaidEscape makes text safe inside a quoted Mermaid node label or an edge label. Mermaid reads `#name;` and
// `#123;` as entity codes and renders labels as HTML, so '#' itself and the HTML specials become entity codes too:
// a label `<no>` or `#1;` shows as written. The backtick would start a Markdown string, '|' ends an edge label.
var mermaidEscape = strings.NewReplacer(
	"#", "#35;", `"`, "#quot;", "<", "#lt;", ">", "#gt;", "&", "#amp;", "|", "#124;", "`", "#96;",
	"\r\n", " ", "\n", " ", "\r", " ",
).Replace

// Dot renders the graph in Graphviz's DOT language. Unreachable actions are dashed and grey.
func (g Graph) Dot() string {
	var b strings.Builder
	b.WriteString("digraph flow {\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("  start [shape=circle, label=\"start\"];\n")
	for _, n := range g.Nodes {
		attrs := ""
		if !n.Reachable {
			attrs = `, style="rounded,dashed", color="#999999", fontcolor="#777777"`
		}
		fmt.Fprintf(&b, "  a%d [label=%s%s];\n", n.Index, strconv.Quote(fmt.Sprintf("%d. %s", n.Index, n.Label)), attrs)
	}
	if len(g.Nodes) > 0 {
		b.WriteString("  start -> a0;\n")
	}
	for _, e := range g.Edges {
		if label := edgeLabel(e); label != "" {
			fmt.Fprintf(&b, "  a%d -> a%d [label=%s];\n", e.From, e.To, strconv.Quote(label))
		} else {
			fmt.Fprintf(&b, "  a%d -> a%d;\n", e.From, e.To)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func edgeLabel(e Edge) string {
	switch e.Kind {
	case EdgeNext:
		return ""
	case EdgeBranch:
		return e.Label
	}
	return string(e.Kind)
}
