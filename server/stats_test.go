package server_test

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

type apiFlowStats struct {
	FlowID     string         `json:"flow_id"`
	Revision   int            `json:"revision"`
	Since      string         `json:"since"`
	Until      string         `json:"until"`
	Executions int            `json:"executions"`
	Running    int            `json:"running"`
	Ends       map[string]int `json:"ends"`
	Actions    []struct {
		ActionID   string         `json:"action_id"`
		Type       string         `json:"type"`
		Entered    int            `json:"entered"`
		Visits     int            `json:"visits"`
		Ended      int            `json:"ended"`
		EndReasons map[string]int `json:"end_reasons"`
		MedianMS   *int           `json:"median_ms"`
	} `json:"actions"`
	Edges []struct {
		From, To string
		Count    int
	} `json:"edges"`
}

// statsIVR greets, asks for a digit (twice at most: a wrong digit goes back to the menu once), and routes 1 to
// sales and 2 to support; every path ends with bye.
const statsIVR = `{"name":"stats","actions":[
	{"id":"welcome","type":"talk","option":{"text":"hi"}},
	{"id":"menu","type":"digits_receive","option":{"duration":5000,"length":1}},
	{"id":"route","type":"branch","option":{"target_ids":{"1":"sales","2":"support"},"default_target_id":"again"}},
	{"id":"again","type":"goto","option":{"target_id":"menu","loop_count":1}},
	{"id":"bye","type":"hangup"},
	{"id":"sales","type":"talk","option":{"text":"sales"},"next_id":"bye"},
	{"id":"support","type":"talk","option":{"text":"support"},"next_id":"bye"}]}`

// recordRows writes an activeflow's executed actions as activeflow_actions rows from its history as the API
// answers it, when the runtime has not written them itself (before the stored format version 2 is wired in, the
// executed actions live in the state document only).
func (e *env) recordRows(u user, id string) {
	e.t.Helper()
	ctx := context.Background()
	afID := uuid.MustParse(id)
	have, err := e.st.ActiveflowActions(ctx, afID)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(have) > 0 {
		return
	}
	var a apiActiveflow
	e.as(u, "GET", "/v1.0/activeflows/"+id, nil).wantStatus(http.StatusOK).decode(&a)
	rows := make([]store.ActiveflowAction, 0, len(a.ExecutedActions))
	for _, x := range a.ExecutedActions {
		tm, err := time.Parse("2006-01-02 15:04:05.000000", x.TMExecute)
		if err != nil {
			e.t.Fatal(err)
		}
		r := flow.Executed{Action: flow.Action{ID: uuid.MustParse(x.ID), Type: flow.Type(x.Type)}, Step: x.Step, TMExecute: tm}
		if x.FlowID != "" {
			r.FlowID, r.Revision = uuid.MustParse(x.FlowID), x.FlowRevision
		}
		row, err := store.NewActiveflowAction(afID, uuid.MustParse(u.customerID), &r)
		if err != nil {
			e.t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if err := e.st.AppendActiveflowActions(ctx, rows); err != nil {
		e.t.Fatal(err)
	}
}

// TestFlowStats: three executions take different paths through an IVR (sales; support; a wrong digit, the menu
// again, then hang-up by stop), a fourth is still at the welcome; the stats count entries, visits, moves, ends
// and medians as they happened, for the revision and window asked, and only the caller's.
func TestFlowStats(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		start := e.clock.Now()
		var f struct {
			ID      string `json:"id"`
			Actions []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"actions"`
		}
		e.as(e.alice, "POST", "/v1.0/flows", statsIVR).wantStatus(http.StatusOK).decode(&f)
		id := map[string]string{}
		for _, a := range f.Actions {
			id[a.Name] = a.ID
		}

		// run starts an execution and reports each runner action done after the given time at it; digits
		// answers the menu, in turn.
		run := func(welcome time.Duration, digits ...string) apiActiveflow {
			a := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
			for a.Status == "running" {
				var vars map[string]string
				switch a.CurrentAction.Type {
				case "talk":
					e.clock.Advance(welcome)
				case "digits_receive":
					e.clock.Advance(4 * time.Second)
					if len(digits) == 0 {
						e.as(e.alice, "POST", "/v1.0/activeflows/"+a.ID+"/stop", nil).wantStatus(http.StatusOK).decode(&a)
						continue
					}
					vars = map[string]string{"voipbin.call.digits": digits[0]}
					digits = digits[1:]
				}
				a = e.next(e.alice, a, vars)
			}
			e.recordRows(e.alice, a.ID)
			return a
		}
		run(1*time.Second, "1")
		support := run(2*time.Second, "2")
		stopped := run(3*time.Second, "9")
		if stopped.EndReason == "" {
			t.Fatalf("the third execution ended without a reason: %+v", stopped)
		}
		waiting := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
		e.recordRows(e.alice, waiting.ID)

		e.clock.Advance(time.Second) // until defaults to now, and counts executions created before it
		var st apiFlowStats
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/stats", nil).wantStatus(http.StatusOK).decode(&st)
		if st.FlowID != f.ID || st.Revision != 1 || st.Executions != 4 || st.Running != 1 {
			t.Fatalf("totals: %+v", st)
		}
		wantEnds := map[string]int{"hangup": 2, stopped.EndReason: 1}
		if len(st.Ends) != len(wantEnds) || st.Ends["hangup"] != 2 || st.Ends[stopped.EndReason] != 1 {
			t.Errorf("ends: got %v, want %v", st.Ends, wantEnds)
		}

		type actionWant struct {
			entered, visits, ended int
			median                 *int
		}
		ms := func(v int) *int { return &v }
		want := map[string]actionWant{
			"welcome": {4, 4, 0, ms(2000)}, // 1 s, 2 s, 3 s; the waiting one has not left it
			"menu":    {3, 4, 1, ms(4000)}, // the wrong digit comes back once; the stop ends it there
			"route":   {3, 3, 0, nil},      // a control action: no median
			"again":   {1, 1, 0, nil},
			"sales":   {1, 1, 0, ms(1000)},
			"support": {1, 1, 0, ms(2000)},
			"bye":     {2, 2, 2, ms(0)},
		}
		if len(st.Actions) != len(want) {
			t.Fatalf("actions: got %d, want %d: %+v", len(st.Actions), len(want), st.Actions)
		}
		order := []string{"welcome", "menu", "route", "again", "bye", "sales", "support"}
		for i, a := range st.Actions {
			name := order[i]
			w := want[name]
			if a.ActionID != id[name] {
				t.Errorf("action %d: got %s, want %s (%s)", i, a.ActionID, id[name], name)
				continue
			}
			if a.Entered != w.entered || a.Visits != w.visits || a.Ended != w.ended {
				t.Errorf("%s: entered/visits/ended %d/%d/%d, want %d/%d/%d", name, a.Entered, a.Visits, a.Ended,
					w.entered, w.visits, w.ended)
			}
			if (a.MedianMS == nil) != (w.median == nil) || (a.MedianMS != nil && *a.MedianMS != *w.median) {
				t.Errorf("%s: median %v, want %v", name, orNone(a.MedianMS), orNone(w.median))
			}
		}
		if r := st.Actions[1].EndReasons; r[stopped.EndReason] != 1 || len(r) != 1 {
			t.Errorf("menu end reasons %v", r)
		}
		if r := st.Actions[4].EndReasons; r["hangup"] != 2 || len(r) != 1 {
			t.Errorf("bye end reasons %v", r)
		}

		wantEdges := map[[2]string]int{
			{"welcome", "menu"}: 3, {"menu", "route"}: 3, {"route", "sales"}: 1, {"route", "support"}: 1,
			{"route", "again"}: 1, {"again", "menu"}: 1, {"sales", "bye"}: 1, {"support", "bye"}: 1,
		}
		name := map[string]string{}
		for n, i := range id {
			name[i] = n
		}
		got := map[[2]string]int{}
		for i, edge := range st.Edges {
			got[[2]string{name[edge.From], name[edge.To]}] = edge.Count
			if i > 0 && edge.Count > st.Edges[i-1].Count {
				t.Errorf("edges not most taken first: %+v", st.Edges)
			}
		}
		if len(got) != len(wantEdges) {
			t.Errorf("edges: got %v, want %v", got, wantEdges)
		}
		for k, n := range wantEdges {
			if got[k] != n {
				t.Errorf("edge %s → %s: got %d, want %d", k[0], k[1], got[k], n)
			}
		}

		// Hours later, the executions' hours are closed: they are summed once, stored, and answered from the sums
		// with the same counts and medians; the execution still running is counted from its rows every time.
		first := st
		e.clock.Advance(3 * time.Hour)
		window := "/v1.0/flows/" + f.ID + "/stats?revision=1&since=" + url.QueryEscape(start.Add(-2*time.Hour).Format(time.RFC3339))
		for range 2 {
			var again apiFlowStats
			e.as(e.alice, "GET", window, nil).wantStatus(http.StatusOK).decode(&again)
			sameStats(t, first, again)
		}
		// The sum answers: an action row added to an ended execution now (the runtime never does) is not read...
		at, err := time.Parse("2006-01-02 15:04:05.000000", stopped.ExecutedActions[len(stopped.ExecutedActions)-1].TMExecute)
		if err != nil {
			t.Fatal(err)
		}
		extra, err := store.NewActiveflowAction(uuid.MustParse(stopped.ID), uuid.MustParse(e.alice.customerID), &flow.Executed{
			Action: flow.Action{ID: uuid.MustParse(id["sales"]), Type: flow.TypeTalk}, Step: len(stopped.ExecutedActions) + 1,
			FlowID: uuid.MustParse(f.ID), Revision: 1, TMExecute: at})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.AppendActiveflowActions(context.Background(), []store.ActiveflowAction{extra}); err != nil {
			t.Fatal(err)
		}
		e.as(e.alice, "GET", window, nil).wantStatus(http.StatusOK).decode(&st)
		sameStats(t, first, st)
		// ...until its hour is summed again, as it is when one of the hour's executions is deleted.
		e.as(e.alice, "DELETE", "/v1.0/activeflows/"+support.ID, nil).wantStatus(http.StatusNoContent)
		e.as(e.alice, "GET", window, nil).wantStatus(http.StatusOK).decode(&st)
		visits := map[string]int{}
		for _, a := range st.Actions {
			visits[a.ActionID] = a.Visits
		}
		if st.Executions != 3 || visits[id["support"]] != 0 || visits[id["sales"]] != 2 || visits[id["welcome"]] != 3 {
			t.Errorf("after a deletion, the hour summed again: %+v", st)
		}

		// An execution of a summed hour that lasts over an hour is never in the sum: it is counted from its rows,
		// running or ended, now and later.
		e.as(e.alice, "POST", "/v1.0/activeflows/"+waiting.ID+"/stop", nil).wantStatus(http.StatusOK)
		for range 2 {
			var ended apiFlowStats
			e.as(e.alice, "GET", window, nil).wantStatus(http.StatusOK).decode(&ended)
			if ended.Executions != 3 || ended.Running != 0 || ended.Actions[0].Ended != 1 || ended.Actions[0].Visits != 3 {
				t.Errorf("the waiting execution stopped: %+v", ended)
			}
			e.clock.Advance(2 * time.Hour)
		}

		// A window before the executions counts none; since and until are answered as used.
		since := start.Add(-30 * 24 * time.Hour).UTC().Format("2006-01-02 15:04:05.000000")
		q := url.Values{"since": {since}, "until": {start.Add(-time.Second).Format(time.RFC3339Nano)}}
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/stats?"+q.Encode(), nil).wantStatus(http.StatusOK).decode(&st)
		if st.Executions != 0 || len(st.Actions) != 0 || len(st.Edges) != 0 || st.Since != since {
			t.Errorf("an earlier window: %+v", st)
		}

		// A new revision starts from zero; the old one is still there by number.
		e.clock.Advance(time.Second)
		e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, `{"name":"v2","actions":[{"type":"hangup"}]}`).wantStatus(http.StatusOK)
		e.recordRows(e.alice, e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`).ID)
		e.clock.Advance(time.Second)
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/stats", nil).wantStatus(http.StatusOK).decode(&st)
		if st.Revision != 2 || st.Executions != 1 || st.Running != 1 || len(st.Actions) != 1 || st.Actions[0].Entered != 1 {
			t.Errorf("revision 2: %+v", st)
		}
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/stats?revision=1", nil).wantStatus(http.StatusOK).decode(&st)
		if st.Revision != 1 || st.Executions != 3 { // one deleted above
			t.Errorf("revision 1 again: %+v", st)
		}

		// Bad windows, other customers, unknown flows and revisions.
		for _, query := range []string{
			"since=yesterday",
			"until=2026-13-01T00:00:00Z",
			"since=2026-11-23T00:00:00Z&until=2026-11-22T00:00:00Z",
			"since=2026-11-23T00:00:00Z&until=2026-11-23T00:00:00Z",
			"since=2024-01-01T00:00:00Z&until=2025-01-02T00:00:01Z",
			"revision=0",
			"revision=x",
		} {
			e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/stats?"+query, nil).wantError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
		}
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/stats?since=2024-01-01T00:00:00Z&until=2025-01-01T00:00:00Z", nil).
			wantStatus(http.StatusOK)
		e.as(e.bob, "GET", "/v1.0/flows/"+f.ID+"/stats", nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
		e.as(e.alice, "GET", "/v1.0/flows/"+uuid.NewString()+"/stats", nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/stats?revision=9", nil).wantError(http.StatusNotFound, "REVISION_NOT_FOUND")
	})
}

// sameStats fails unless got counts what want counts, whatever their windows.
func sameStats(t *testing.T, want, got apiFlowStats) {
	t.Helper()
	want.Since, want.Until, got.Since, got.Until = "", "", "", ""
	if !reflect.DeepEqual(want, got) {
		t.Errorf("statistics differ:\n got %+v\nwant %+v", got, want)
	}
}

func orNone[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestFlowStatsOwnActionsOnly: the actions of another flow that an execution ran in between (a fetch_flow's) are
// neither counted nor joined into moves: a move into or out of them is no edge between the flow's own actions,
// and an own action's time runs until the next move, whichever flow it is to.
func TestFlowStatsOwnActionsOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		var f struct {
			ID      string `json:"id"`
			Actions []struct {
				ID string `json:"id"`
			} `json:"actions"`
		}
		e.as(e.alice, "POST", "/v1.0/flows", `{"name":"own","actions":[{"type":"talk","option":{"text":"a"}},
			{"type":"talk","option":{"text":"b"}}]}`).wantStatus(http.StatusOK).decode(&f)
		a := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
		e.recordRows(e.alice, a.ID)
		at, err := time.Parse("2006-01-02 15:04:05.000000", a.CurrentAction.TMExecute)
		if err != nil {
			t.Fatal(err)
		}
		other, flowID := uuid.New(), uuid.MustParse(f.ID)
		rows := []flow.Executed{
			{Action: flow.Action{ID: uuid.New(), Type: flow.TypeTalk}, Step: 2, FlowID: other, Revision: 1, TMExecute: at.Add(3 * time.Second)},
			{Action: flow.Action{ID: uuid.MustParse(f.Actions[1].ID), Type: flow.TypeTalk}, Step: 3, FlowID: flowID, Revision: 1, TMExecute: at.Add(4 * time.Second)},
			{Action: flow.Action{ID: uuid.New(), Type: flow.TypeHangup}, Step: 4, FlowID: other, Revision: 1, TMExecute: at.Add(9 * time.Second)},
		}
		var add []store.ActiveflowAction
		for i := range rows {
			row, err := store.NewActiveflowAction(uuid.MustParse(a.ID), uuid.MustParse(e.alice.customerID), &rows[i])
			if err != nil {
				t.Fatal(err)
			}
			add = append(add, row)
		}
		if err := e.st.AppendActiveflowActions(context.Background(), add); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		var st apiFlowStats
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/stats", nil).wantStatus(http.StatusOK).decode(&st)
		if st.Executions != 1 || len(st.Actions) != 2 || len(st.Edges) != 0 {
			t.Fatalf("got %+v, want the two own actions and no edge", st)
		}
		for i, want := range []int{3000, 5000} {
			got := st.Actions[i]
			if got.ActionID != f.Actions[i].ID || got.Entered != 1 || got.Visits != 1 || got.MedianMS == nil || *got.MedianMS != want {
				t.Errorf("action %d: got %+v (median %v), want entered once, median %d ms", i, got, orNone(got.MedianMS), want)
			}
		}
	})
}

// TestFlowStatsMedianRounding: a median is of the times rounded to the millisecond below a second and to three
// significant digits from there (10 s steps from 10,000 s on), computed from the rows or from an hour's sum alike.
func TestFlowStatsMedianRounding(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		start := e.clock.Now()
		cases := []struct {
			took time.Duration
			want int
		}{
			{567 * time.Millisecond, 567}, // (SQLite's date functions keep milliseconds: no finer time here)
			{1234 * time.Millisecond, 1230},
			{12345 * time.Millisecond, 12300},
			{123456 * time.Millisecond, 123000},
			{1234567 * time.Millisecond, 1230000},
			{12345678 * time.Millisecond, 12350000},
		}
		flows := make([]string, len(cases))
		for i, c := range cases {
			var f struct {
				ID string `json:"id"`
			}
			e.as(e.alice, "POST", "/v1.0/flows", `{"name":"rounding","actions":[{"type":"talk","option":{"text":"hi"}},{"type":"hangup"}]}`).
				wantStatus(http.StatusOK).decode(&f)
			flows[i] = f.ID
			a := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
			e.clock.Advance(c.took)
			a = e.next(e.alice, a, nil) // on to the hangup, which the runner reports done at once
			if a = e.next(e.alice, a, nil); a.Status != "ended" {
				t.Fatalf("the execution did not end at the hangup: %+v", a)
			}
		}
		median := func(id, query string) int {
			t.Helper()
			var st apiFlowStats
			e.as(e.alice, "GET", "/v1.0/flows/"+id+"/stats"+query, nil).wantStatus(http.StatusOK).decode(&st)
			if len(st.Actions) != 2 || st.Actions[0].MedianMS == nil {
				t.Fatalf("stats: %+v", st)
			}
			return *st.Actions[0].MedianMS
		}
		for i, c := range cases {
			if got := median(flows[i], ""); got != c.want {
				t.Errorf("%s from the rows: median %d ms, want %d", c.took, got, c.want)
			}
		}
		// A day on, every hour is summed: the same medians. (The longest one lasted over an hour: from its rows.)
		e.clock.Advance(24 * time.Hour)
		since := "?since=" + url.QueryEscape(start.Add(-time.Hour).Format(time.RFC3339))
		for i, c := range cases {
			if got := median(flows[i], since); got != c.want {
				t.Errorf("%s from the sums: median %d ms, want %d", c.took, got, c.want)
			}
		}
	})
}
