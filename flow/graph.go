package flow

import "github.com/google/uuid"

// index maps action ids to their positions.
func index(actions []Action) map[uuid.UUID]int {
	m := make(map[uuid.UUID]int, len(actions))
	for i, a := range actions {
		m[a.ID] = i
	}
	return m
}

// continuationOf is where an execution goes after action i when nothing jumps: its next_id, else the next action
// in the list. -1 is the end.
func continuationOf(actions []Action, idx map[uuid.UUID]int, i int) (int, EdgeKind) {
	if id := actions[i].NextID; id != uuid.Nil {
		if j, ok := idx[id]; ok {
			return j, EdgeNextID
		}
		return -1, EdgeNextID
	}
	if i+1 < len(actions) {
		return i + 1, EdgeNext
	}
	return -1, EdgeNext
}

func lookupRef(idx map[uuid.UUID]int, ref string) (int, bool) {
	id, ok := ParseID(ref)
	if !ok || id == uuid.Nil {
		return 0, false
	}
	j, ok := idx[id]
	return j, ok
}

// Edges lists every possible move between the actions of a list, in action order, as the actions' rules
// (control.go, declared with each type) define them. Moves to the end of the execution are left out.
func Edges(actions []Action) []Edge {
	idx := index(actions)
	var edges []Edge
	for i, a := range actions {
		next, nextKind := continuationOf(actions, idx, i)
		for _, m := range ruleOf(a.Type).movesOf(a.Option) {
			to, kind := next, nextKind
			if m.Kind != "" {
				kind = m.Kind
			}
			if m.Ref != "" {
				if j, ok := lookupRef(idx, m.Ref); ok {
					to = j
				} else if !m.Fallback {
					continue
				}
			}
			if to >= 0 {
				edges = append(edges, Edge{From: i, To: to, Kind: kind, Label: m.Label})
			}
		}
	}
	return edges
}

// Reachable reports, for each action, whether an execution starting at the first action can reach it.
func Reachable(actions []Action) []bool {
	seen := make([]bool, len(actions))
	if len(actions) == 0 {
		return seen
	}
	out := make([][]int, len(actions))
	for _, e := range Edges(actions) {
		out[e.From] = append(out[e.From], e.To)
	}
	stack := []int{0}
	seen[0] = true
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, j := range out[i] {
			if !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	return seen
}

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
