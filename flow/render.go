package flow

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Node is an action as a graph node.
type Node struct {
	ID        string `json:"id"`
	Index     int    `json:"index"`
	Type      Type   `json:"type"`
	Name      string `json:"name,omitempty"`
	Label     string `json:"label"`
	Reachable bool   `json:"reachable"`
}

// Graph is a flow as a graph: its actions, the moves between them, and which actions can never run.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// MarshalJSON writes an edge with the ids of its actions, as clients know them.
func (g Graph) MarshalJSON() ([]byte, error) {
	type edge struct {
		From  string   `json:"from"`
		To    string   `json:"to"`
		Kind  EdgeKind `json:"kind"`
		Label string   `json:"label,omitempty"`
	}
	edges := make([]edge, len(g.Edges))
	for i, e := range g.Edges {
		edges[i] = edge{From: g.Nodes[e.From].ID, To: g.Nodes[e.To].ID, Kind: e.Kind, Label: e.Label}
	}
	return json.Marshal(struct {
		Nodes []Node `json:"nodes"`
		Edges []edge `json:"edges"`
	}{g.Nodes, edges})
}

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

// summary is a short label of an action: its type and the option that matters most.
func summary(a Action) string {
	var o map[string]any
	_ = json.Unmarshal(a.Option, &o)
	str := func(key string) string {
		if v, ok := o[key]; ok && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	detail := ""
	switch a.Type {
	case TypeTalk:
		detail = str("text")
	case TypePlay:
		urls, _ := o["stream_urls"].([]any)
		if urls == nil {
			urls, _ = o["stream_url"].([]any)
		}
		if len(urls) > 0 {
			u := fmt.Sprint(urls[0])
			detail = u[strings.LastIndex(u, "/")+1:]
		}
	case TypeBranch:
		detail = "on " + cmp.Or(str("variable"), VarDigits)
	case TypeConditionVariable:
		detail = strings.TrimSpace(fmt.Sprintf("%s %s %s", str("variable"), str("condition"),
			cmp.Or(str("value_string"), str("value_number"), str("value_length"))))
	case TypeConditionDatetime:
		var parts []string
		for _, k := range []string{"month", "day", "hour", "minute"} {
			if v, ok := o[k].(float64); ok && v >= 0 {
				parts = append(parts, fmt.Sprintf("%s %v", k, v))
			}
		}
		if w := str("weekdays"); w != "" && w != "[]" {
			parts = append(parts, "weekdays "+w)
		}
		detail = str("condition") + " " + strings.Join(parts, ", ")
	case TypeConditionCallStatus:
		detail = "status " + str("status")
	case TypeGoto:
		detail = "loop_count " + cmp.Or(str("loop_count"), "0")
	case TypeVariableSet:
		detail = str("key") + " = " + str("value")
	case TypeDigitsReceive:
		if l := str("length"); l != "" {
			detail = "length " + l
		}
	case TypeWebhookSend, TypeFetch:
		detail = cmp.Or(str("uri"), str("event_url"))
	case TypeHangup:
		detail = str("reason")
	}
	detail = strings.TrimSpace(detail)
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
