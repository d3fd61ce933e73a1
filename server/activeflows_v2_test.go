package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

// rawDB opens the test's database beside the store, to write and measure rows as another release would.
func (e *env) rawDB() *sql.DB {
	e.t.Helper()
	driver, dsn := "pgx", e.stCfg.URL
	if e.backend == storetest.SQLite {
		driver, dsn = "sqlite", "file:"+e.stCfg.SQLitePath+"?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	return db
}

// stateSize is the size of an activeflow's stored state, in bytes as the column holds it.
func (e *env) stateSize(db *sql.DB, id string) (size int, doc string) {
	e.t.Helper()
	q := "SELECT state FROM activeflows WHERE id = $1"
	if e.backend == storetest.SQLite {
		q = "SELECT state FROM activeflows WHERE id = ?"
	}
	if err := db.QueryRowContext(context.Background(), q, id).Scan(&doc); err != nil {
		e.t.Fatal(err)
	}
	return len(doc), doc
}

// TestActiveflowVersion1Row: an activeflow whose state a release before the stored format version 2 wrote (one
// document with its inline actions and its whole history, flow/testdata/execution_v1_inline.json, at a goto
// loop's second pass) is answered whole by GET, runs on through /next to its end exactly as the engine runs it,
// is written as version 2 by its first report (its history moved to rows, its actions stored once), is answered
// whole again, and is deleted; on both databases.
func TestActiveflowVersion1Row(t *testing.T) {
	t.Parallel()
	golden, err := os.ReadFile("../flow/testdata/execution_v1_inline.json")
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer // as version 1 wrote it
	if err := json.Compact(&compact, golden); err != nil {
		t.Fatal(err)
	}
	const id = "0c9a3b2e-7d6f-4e1a-8b5c-3a2f1e0d9c8b" // the golden's voipbin.activeflow.id
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		db := e.rawDB()
		q := `INSERT INTO activeflows (id, customer_id, status, end_reason, state, version, reference_type, tm_create)
VALUES ($1, $2, 'running', '', $3, 1, 'api', $4)`
		if b == storetest.SQLite {
			q = strings.NewReplacer("$1", "?", "$2", "?", "$3", "?", "$4", "?").Replace(q)
		}
		if _, err := db.Exec(q, id, e.alice.customerID, compact.String(), time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		var a apiActiveflow
		e.as(e.alice, "GET", "/v1.0/activeflows/"+id, nil).wantStatus(http.StatusOK).decode(&a)
		if got := steps(a.ExecutedActions); len(a.ExecutedActions) != 4 || a.CurrentAction == nil || a.CurrentAction.Step != 4 {
			t.Fatalf("the version 1 row: history %v, current %+v; want 4 steps, at step 4", got, a.CurrentAction)
		}
		var moved []apiExecuted
		for i := 0; a.Status == "running"; i++ {
			if i > 10 {
				t.Fatal("the activeflow does not end")
			}
			a = e.next(e.alice, a, nil)
			moved = append(moved, a.ExecutedActions...)
			if i == 0 {
				if _, doc := e.stateSize(db, id); !strings.Contains(doc, `"version":2`) || strings.Contains(doc, `"executed"`) ||
					strings.Contains(doc, `"actions"`) {
					t.Errorf("after its first report the row is not the version 2 hot state: %s", doc)
				}
			}
		}
		full := e.wholeHistory(e.alice, a, moved)
		var trace []string
		for _, x := range full.ExecutedActions {
			trace = append(trace, x.Type)
		}
		const want = "talk variable_set goto talk variable_set goto talk variable_set goto talk variable_set goto hangup"
		if got := strings.Join(trace, " "); got != want || full.EndReason != "hangup" || full.Variables["n"] != "2" {
			t.Errorf("ran %q ending %s with n=%s; want %q ending hangup with n=2", got, full.EndReason, full.Variables["n"], want)
		}
		var list struct{ Result []apiActiveflow }
		e.as(e.alice, "GET", "/v1.0/activeflows", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 1 || len(list.Result[0].ExecutedActions) != len(full.ExecutedActions) {
			t.Errorf("the list answers %d activeflows, the first with %d actions; want 1 with %d", len(list.Result),
				len(list.Result[0].ExecutedActions), len(full.ExecutedActions))
		}
		e.as(e.alice, "DELETE", "/v1.0/activeflows/"+id, nil).wantStatus(http.StatusNoContent)
		e.as(e.alice, "GET", "/v1.0/activeflows/"+id, nil).wantError(http.StatusNotFound, "ACTIVEFLOW_NOT_FOUND")
	})
}

// TestActiveflowStateConstant: a call of 100 reports (a talk that a goto repeats) stores a state of the same
// size at its 2nd report as at its 100th, within the digits of the step count, of the goto's count and of the
// clock's fraction (12 bytes); GET
// and the list answer its whole history, every step in order; on both databases.
func TestActiveflowStateConstant(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, func(cfg *server.Config) { cfg.Execution.MaxExecuted = 300 })
		db := e.rawDB()
		f := e.createFlow(e.alice, longCall)
		a := e.startActiveflow(e.alice, map[string]any{"flow_id": f.ID, "variables": map[string]string{"caller": "+15551234567"}})
		var moved []apiExecuted
		moved = append(moved, a.ExecutedActions...)
		var at2 int
		for report := 1; report <= 100; report++ {
			a = e.next(e.alice, a, map[string]string{"voipbin.call.digits": "1"})
			moved = append(moved, a.ExecutedActions...)
			size, doc := e.stateSize(db, a.ID)
			switch report {
			case 2:
				at2 = size
			case 100:
				t.Logf("the stored state: %d bytes at the 2nd report, %d at the 100th", at2, size)
				if size-at2 > 12 || at2-size > 12 { // digits: steps +2, current step +2, loops +1, the clock's fraction up to 7

					t.Errorf("the stored state grew from %d bytes at the 2nd report to %d at the 100th:\n%s", at2, size, doc)
				}
			}
		}
		if a.CurrentAction == nil || a.CurrentAction.Step != 200 {
			t.Fatalf("after 100 reports the call is at %+v, want step 200", a.CurrentAction)
		}
		full := e.wholeHistory(e.alice, a, moved)
		if len(full.ExecutedActions) != 200 {
			t.Errorf("GET answers %d actions, want 200", len(full.ExecutedActions))
		}
		var list struct{ Result []apiActiveflow }
		e.as(e.alice, "GET", "/v1.0/activeflows", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 1 || len(list.Result[0].ExecutedActions) != 200 {
			t.Errorf("the list answers %d activeflows; want 1 with 200 actions", len(list.Result))
		}
	})
}

// TestActiveflowChainHistory: the end of an activeflow and the start of its on_complete_flow_id are written
// together (one transaction: two changes), each with its own executed actions as rows; GET answers each one's
// whole history and, once ended, the action it ended at; on both databases.
func TestActiveflowChainHistory(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		second := e.createFlow(e.alice, map[string]any{"name": "second", "actions": []any{
			map[string]any{"type": "variable_set", "option": map[string]any{"key": "k", "value": "v"}},
			map[string]any{"type": "talk", "option": map[string]any{"text": "second ${k}"}}}})
		first := e.createFlow(e.alice, map[string]any{"name": "first", "on_complete_flow_id": second.ID, "actions": []any{
			map[string]any{"type": "talk", "option": map[string]any{"text": "first"}}}})
		a := e.startActiveflow(e.alice, map[string]any{"flow_id": first.ID})
		a = e.next(e.alice, a, nil)
		if a.Status != "ended" || a.OnCompleteActiveflowID == "" {
			t.Fatalf("the first activeflow: %+v", a)
		}
		history := func(id string) apiActiveflow {
			var got apiActiveflow
			e.as(e.alice, "GET", "/v1.0/activeflows/"+id, nil).wantStatus(http.StatusOK).decode(&got)
			for i, x := range got.ExecutedActions {
				if x.Step != i+1 {
					t.Fatalf("activeflow %s: the history's steps are %v", id, steps(got.ExecutedActions))
				}
			}
			return got
		}
		if got := history(a.ID); len(got.ExecutedActions) != 1 || got.CurrentAction == nil || got.CurrentAction.Type != "talk" {
			t.Errorf("the first activeflow's history %v, current %+v; want its talk", steps(got.ExecutedActions), got.CurrentAction)
		}
		next := history(a.OnCompleteActiveflowID)
		if len(next.ExecutedActions) != 2 || next.CurrentAction == nil || next.CurrentAction.Step != 2 ||
			!strings.Contains(string(next.CurrentAction.Option), "second v") {
			t.Fatalf("the second activeflow: history %v, current %+v", steps(next.ExecutedActions), next.CurrentAction)
		}
		e.next(e.alice, next, nil)
		if got := history(next.ID); got.Status != "ended" || len(got.ExecutedActions) != 2 || got.CurrentAction == nil ||
			got.CurrentAction.Step != 2 {
			t.Errorf("the second activeflow once ended: %s, history %v, current %+v", got.Status, steps(got.ExecutedActions), got.CurrentAction)
		}
	})
}

// TestActiveflowFramesAcrossInstances: inline actions and the actions a fetch returned are stored once, when
// their frame is created (activeflow_frames), and another instance, which has never seen them, runs on from
// them: the fetched list's second action, then back to the inline list's hangup; on both databases.
func TestActiveflowFramesAcrossInstances(t *testing.T) {
	t.Parallel()
	fetched := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[{"type":"talk","option":{"text":"fetched one"}},{"type":"talk","option":{"text":"fetched two"}}]`))
	}))
	t.Cleanup(fetched.Close)
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, allowLoopback)
		var cfg server.Config
		allowLoopback(&cfg)
		second, _ := e.instanceOn(t, cfg, e.stCfg)
		a := e.startActiveflow(e.alice, map[string]any{"actions": []any{
			map[string]any{"type": "fetch", "option": map[string]any{"event_url": fetched.URL + "/actions"}},
			map[string]any{"type": "hangup"}}})
		if a.CurrentAction == nil || !strings.Contains(string(a.CurrentAction.Option), "fetched one") {
			t.Fatalf("after the fetch: %+v", a.CurrentAction)
		}
		db := e.rawDB()
		q := "SELECT count(*) FROM activeflow_frames WHERE activeflow_id = $1"
		if b == storetest.SQLite {
			q = "SELECT count(*) FROM activeflow_frames WHERE activeflow_id = ?"
		}
		var frames int
		if err := db.QueryRow(q, a.ID).Scan(&frames); err != nil || frames != 2 {
			t.Errorf("stored %d action lists (%v), want 2: the inline one and the fetched one", frames, err)
		}
		a = second.next(e.alice, a, nil)
		if a.CurrentAction == nil || !strings.Contains(string(a.CurrentAction.Option), "fetched two") || a.CurrentAction.Source != fetched.URL+"/actions" {
			t.Fatalf("the other instance moved to %+v, want the fetched list's second talk", a.CurrentAction)
		}
		a = second.next(e.alice, a, nil)
		if a.CurrentAction == nil || a.CurrentAction.Type != "hangup" {
			t.Fatalf("past the fetched list: %+v, want the inline hangup", a.CurrentAction)
		}
		a = second.next(e.alice, a, nil)
		var full apiActiveflow
		second.as(e.alice, "GET", "/v1.0/activeflows/"+a.ID, nil).wantStatus(http.StatusOK).decode(&full)
		if got := strings.Join(steps(full.ExecutedActions), " "); full.EndReason != "hangup" || len(full.ExecutedActions) != 4 {
			t.Errorf("history %s ending %s, want fetch, two talks and the hangup", got, full.EndReason)
		}
	})
}
