package server_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store/storetest"
)

// flowGen makes random flows that use every control action: loops, branches, conditions, variables and nested
// fetch_flow of other random flows.
type flowGen struct {
	r    *rand.Rand
	subs []string // flows that fetch_flow may fetch
}

func (g *flowGen) pick(list ...string) string { return list[g.r.IntN(len(list))] }

func (g *flowGen) actions(n int, canFetch bool) []map[string]any {
	label := func() string { return "a" + strconv.Itoa(g.r.IntN(n)) }
	out := make([]map[string]any, n)
	for i := range out {
		a := map[string]any{"id": "a" + strconv.Itoa(i)}
		var opt map[string]any
		types := []string{"talk", "answer", "digits_receive", "beep", "goto", "branch", "condition_variable",
			"condition_call_digits", "condition_datetime", "condition_call_status", "variable_set", "hangup", "stop"}
		if canFetch && len(g.subs) > 0 {
			types = append(types, "fetch_flow", "fetch_flow")
		}
		ty := types[g.r.IntN(len(types))]
		a["type"] = ty
		switch ty {
		case "talk":
			opt = map[string]any{"text": g.pick("hello ${v}", "menu", "${voipbin.call.digits}!", "x")}
		case "digits_receive":
			opt = map[string]any{"duration": 1000, "length": 1 + g.r.IntN(3)}
		case "goto":
			opt = map[string]any{"target_id": label(), "loop_count": g.r.IntN(4)}
		case "branch":
			opt = map[string]any{"target_ids": map[string]any{"1": label(), "2": label()}}
			if g.r.IntN(2) == 0 {
				opt["variable"] = g.pick("v", "${v}")
			}
			if g.r.IntN(3) > 0 {
				opt["default_target_id"] = label()
			}
		case "condition_variable":
			opt = map[string]any{"condition": g.pick("==", "!=", ">", "<="), "variable": g.pick("v", "${v}", "${v}-${w}"),
				"value_type": g.pick("string", "number", "length"), "value_string": g.pick("1", "2", "1-"), "value_number": g.r.IntN(3),
				"value_length": g.r.IntN(3), "false_target_id": label()}
		case "condition_call_digits":
			opt = map[string]any{"false_target_id": label()}
			if g.r.IntN(2) == 0 {
				opt["length"] = 1 + g.r.IntN(3)
			}
			if g.r.IntN(2) == 0 {
				opt["key"] = g.pick("#", "1", "*")
			}
		case "condition_datetime":
			opt = map[string]any{"condition": g.pick("==", ">=", "<"), "hour": g.r.IntN(25) - 1, "minute": g.r.IntN(61) - 1,
				"false_target_id": label()}
			if g.r.IntN(2) == 0 {
				opt["weekdays"] = []int{g.r.IntN(7), g.r.IntN(7)}
			}
		case "condition_call_status":
			opt = map[string]any{"status": g.pick("progressing", "ringing"), "false_target_id": label()}
		case "variable_set":
			opt = map[string]any{"key": g.pick("v", "w"), "value": g.pick("1", "2", "${v}1", "${w}${v}")}
		case "hangup":
			if g.r.IntN(2) == 0 { // a hangup ends the flow early; keep some flows long
				a["type"] = "beep"
			}
		case "fetch_flow":
			opt = map[string]any{"flow_id": g.subs[g.r.IntN(len(g.subs))]}
		}
		if opt != nil {
			a["option"] = opt
		}
		if g.r.IntN(6) == 0 {
			a["next_id"] = label()
		}
		out[i] = a
	}
	return out
}

// report is what a random runner reports when one runner action completes.
func (g *flowGen) report() map[string]string {
	out := map[string]string{}
	if g.r.IntN(3) > 0 {
		out[flow.VarDigits] = g.pick("1", "2", "", "12#", "*")
	}
	if g.r.IntN(3) == 0 {
		out["v"] = g.pick("1", "2", "10", "x")
	}
	if g.r.IntN(4) == 0 {
		out[flow.VarCallStatus] = g.pick("progressing", "ringing")
	}
	if g.r.IntN(8) == 0 {
		out["voipbin.activeflow.id"] = "forged" // ignored, on both paths
	}
	return out
}

// TestPropertyActiveflowMatchesSimulate: for random flows and random runner reports, an activeflow driven step
// by step over HTTP, stored and read back between every two steps, runs exactly what simulate runs with the same
// script: the same actions, options, steps, decisions, end and variables. On both stores, with a fixed seed (whose
// flows are known to run every control action) and a new one each run.
func TestPropertyActiveflowMatchesSimulate(t *testing.T) {
	// Not in parallel with the package: CPU-bound (many large or random requests), its requests could wait past the
	// client timeout under the race detector. Its own four runs (two seeds, two stores) share the cores instead: one
	// run keeps one core busy, so one after another they left the other idle.
	const fixed = 20261201
	random := uint64(time.Now().UnixNano())
	if s := os.Getenv("FLOWBIN_PROPERTY_SEED"); s != "" {
		random, _ = strconv.ParseUint(s, 10, 64)
	}
	for _, seed := range []uint64{fixed, random} {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			propertyRun(t, seed, seed == fixed)
		})
	}
}

func propertyRun(t *testing.T, seed uint64, wantCoverage bool) {
	t.Logf("seed %d (FLOWBIN_PROPERTY_SEED reproduces a run)", seed)
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		g := &flowGen{r: rand.New(rand.NewPCG(seed, 1))}
		for range 3 {
			f := e.createFlow(e.alice, map[string]any{"name": "sub", "actions": g.actions(2+g.r.IntN(4), true)}) // later subs fetch earlier ones: nested fetch_flow
			g.subs = append(g.subs, f.ID)
		}
		ran := map[string]bool{}
		for i := range 40 {
			now := time.Date(2026, 11, 23+g.r.IntN(7), g.r.IntN(24), g.r.IntN(60), 0, 0, time.UTC)
			e.clock.Set(now)
			f := e.createFlow(e.alice, map[string]any{"name": fmt.Sprint("random ", i), "actions": g.actions(3+g.r.IntN(10), true)})
			start := map[string]string{"v": g.pick("1", "2", "x"), "w": "-"}
			reports := make([]map[string]string, flow.DefaultMaxExecuted)
			for j := range reports {
				reports[j] = g.report()
			}
			steps := make([]map[string]any, len(reports))
			for j, r := range reports {
				steps[j] = map[string]any{"variables": r}
			}
			var sim apiSimulation
			e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/simulate", map[string]any{"variables": start, "steps": steps,
				"now": now.Format(flow.TimeLayout)}).wantStatus(http.StatusOK).decode(&sim)

			a := e.startActiveflow(e.alice, map[string]any{"flow_id": f.ID, "variables": start})
			history := a.ExecutedActions // the start's answer: all of it; each report's: what it moved to
			for j := 0; a.Status == "running"; j++ {
				body := map[string]any{"current_action_id": a.CurrentAction.ID, "step": a.CurrentAction.Step, "variables": reports[j]}
				e.as(e.alice, "POST", "/v1.0/activeflows/"+a.ID+"/next", body).wantStatus(http.StatusOK).decode(&a)
				history = append(history, a.ExecutedActions...)
				var read apiActiveflow
				e.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusOK).decode(&read)
				if simTrace(read.ExecutedActions) != simTrace(history) {
					t.Fatalf("flow %d: read back another trace", i)
				}
				a.ExecutedActions = history
			}
			if sim.EndReason != a.EndReason || !sameRuns(sim.ExecutedActions, a.ExecutedActions) ||
				!maps.Equal(withoutActiveflowID(sim.Variables), withoutActiveflowID(a.Variables)) {
				t.Errorf("flow %d (seed %d): simulate %q ending %s\nactiveflow %q ending %s\nvariables %v\n       vs %v",
					i, seed, simTrace(sim.ExecutedActions), sim.EndReason, simTrace(a.ExecutedActions), a.EndReason,
					sim.Variables, a.Variables)
			}
			wantSteps(t, a)
			// Every move the execution made inside the flow is an edge of the flow's graph: the engine and the graph
			// follow the same rules.
			var graph struct {
				Edges []struct{ From, To, Kind string }
			}
			e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph?format=json", nil).wantStatus(http.StatusOK).decode(&graph)
			edges := map[[2]string]bool{}
			for _, g := range graph.Edges {
				edges[[2]string{g.From, g.To}] = true
			}
			for j := 1; j < len(a.ExecutedActions); j++ {
				from, to := a.ExecutedActions[j-1], a.ExecutedActions[j]
				if from.FlowID == f.ID && to.FlowID == f.ID && from.Type != "fetch_flow" && !edges[[2]string{from.ID, to.ID}] {
					t.Errorf("flow %d: the execution moved %s (%s) → %s (%s), which the graph does not draw", i, from.ID, from.Type, to.ID, to.Type)
				}
			}
			for _, r := range a.ExecutedActions {
				if r.Decision != nil {
					ran[r.Type+":"+r.Decision.Result] = true
				}
			}
			ran["end:"+a.EndReason] = true
		}
		// The flows were random, but not idle: every control action ran, and jumped or fetched.
		for _, want := range []string{"goto:jump", "goto:continue", "branch:jump", "condition_variable:jump", "condition_variable:continue",
			"condition_call_digits:jump", "condition_datetime:jump", "condition_call_status:jump", "variable_set:set", "fetch_flow:fetch", "stop:end"} {
			if wantCoverage && !ran[want] {
				t.Errorf("no random flow ran %s (seed %d); ran %v", want, seed, slices.Sorted(maps.Keys(ran)))
			}
		}
		e.clock.Set(time.Now().UTC())
	})
}

// sameRuns reports whether two traces ran the same actions with the same options, steps and decisions.
func sameRuns(x, y []apiExecuted) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		a, b := x[i], y[i]
		if a.ID != b.ID || a.Type != b.Type || a.Step != b.Step || string(a.Option) != string(b.Option) || a.FlowID != b.FlowID ||
			(a.Decision == nil) != (b.Decision == nil) || (a.Decision != nil && *a.Decision != *b.Decision) {
			return false
		}
	}
	return true
}
