package server_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

type apiRevision struct {
	FlowID   string      `json:"flow_id"`
	Revision int         `json:"revision"`
	Name     string      `json:"name"`
	Detail   string      `json:"detail"`
	Actions  []apiAction `json:"actions"`
	Author   struct {
		Type, ID, Name string
	} `json:"author"`
	TMCreate string `json:"tm_create"`
}

type apiRevisionList struct {
	Result        []apiRevision `json:"result"`
	NextPageToken string        `json:"next_page_token"`
}

func (e *env) revisions(u user, flowID, query string) apiRevisionList {
	e.t.Helper()
	var l apiRevisionList
	e.as(u, "GET", "/v1.0/flows/"+flowID+"/revisions"+query, nil).wantStatus(http.StatusOK).decode(&l)
	return l
}

func TestRevisions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		res := e.as(e.alice, "POST", "/v1.0/flows", `{"name":"v1","actions":[{"id":"a","type":"answer"}]}`).wantStatus(http.StatusOK)
		var f apiFlow
		res.decode(&f)
		if res.header.Get("ETag") != `"r1"` {
			t.Errorf("create: ETag %q, want \"r1\"", res.header.Get("ETag"))
		}
		v1Action := f.Actions[0].ID

		e.clock.Advance(time.Second)
		var v2 apiFlow
		body2 := fmt.Sprintf(`{"name":"v2","actions":[{"id":%q,"type":"answer"},{"type":"hangup"}]}`, v1Action)
		res = e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, body2).wantStatus(http.StatusOK)
		res.decode(&v2)
		if res.header.Get("ETag") != `"r2"` || flowRevision(t, res) != 2 {
			t.Errorf("update: ETag %q", res.header.Get("ETag"))
		}

		// The same content again (ids included): no new revision, nothing changes.
		e.clock.Advance(time.Second)
		same := fmt.Sprintf(`{"name":"v2","actions":[{"id":%q,"type":"answer"},{"id":%q,"type":"hangup"}]}`, v1Action, v2.Actions[1].ID)
		var again apiFlow
		res = e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, same).wantStatus(http.StatusOK)
		res.decode(&again)
		if flowRevision(t, res) != 2 || again.TMUpdate != v2.TMUpdate {
			t.Errorf("identical update: revision %d, tm_update %q, want 2 and %q", flowRevision(t, res), again.TMUpdate, v2.TMUpdate)
		}

		// History, newest first, with its authors; an access key is an author too.
		key := e.createKey(e.alice, `{"name":"deploy bot","expire":86400}`)
		e.do("PUT", "/v1.0/flows/"+f.ID+"?accesskey="+key.Token, `{"name":"v3"}`).wantStatus(http.StatusOK)
		hist := e.revisions(e.alice, f.ID, "")
		if len(hist.Result) != 3 || hist.Result[0].Revision != 3 || hist.Result[2].Revision != 1 || hist.NextPageToken != "1" {
			t.Fatalf("history: %+v", hist)
		}
		if a := hist.Result[0].Author; a.Type != "accesskey" || a.ID != key.ID || a.Name != "deploy bot" {
			t.Errorf("revision 3 author: %+v", a)
		}
		if a := hist.Result[1].Author; a.Type != "user" || a.Name != "alice" {
			t.Errorf("revision 2 author: %+v", a)
		}
		if hist.Result[2].Name != "v1" || len(hist.Result[2].Actions) != 1 || hist.Result[1].Name != "v2" {
			t.Errorf("revision contents: %+v", hist.Result)
		}
		page := e.revisions(e.alice, f.ID, "?page_size=2")
		next := e.revisions(e.alice, f.ID, "?page_size=2&page_token="+page.NextPageToken)
		if len(page.Result) != 2 || len(next.Result) != 1 || next.Result[0].Revision != 1 {
			t.Errorf("paging: %+v then %+v", page, next)
		}
		if empty := e.revisions(e.alice, f.ID, "?page_token=1"); len(empty.Result) != 0 || empty.NextPageToken != "" {
			t.Errorf("past the end: %+v", empty)
		}

		var r1 apiRevision
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/revisions/1", nil).wantStatus(http.StatusOK).decode(&r1)
		if r1.Name != "v1" || r1.Actions[0].ID != v1Action || r1.FlowID != f.ID {
			t.Errorf("revision 1: %+v", r1)
		}

		// Restore revision 1: it becomes current as revision 4.
		var restored apiFlow
		res = e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/revisions/1/restore", nil).wantStatus(http.StatusOK)
		res.decode(&restored)
		if flowRevision(t, res) != 4 || restored.Name != "v1" || len(restored.Actions) != 1 || restored.Actions[0].ID != v1Action {
			t.Errorf("restored: %+v", restored)
		}
		// Restoring the current content changes nothing.
		res = e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/revisions/4/restore", nil).wantStatus(http.StatusOK)
		if flowRevision(t, res) != 4 {
			t.Errorf("restoring the current revision made revision %d", flowRevision(t, res))
		}

		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/revisions/9", nil).wantError(http.StatusNotFound, "REVISION_NOT_FOUND")
		e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/revisions/9/restore", nil).wantError(http.StatusNotFound, "REVISION_NOT_FOUND")
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/revisions/0", nil).wantError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/revisions?page_token=x", nil).wantError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
		e.as(e.bob, "GET", "/v1.0/flows/"+f.ID+"/revisions", nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
		e.as(e.bob, "GET", "/v1.0/flows/"+f.ID+"/revisions/1", nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
		e.as(e.bob, "POST", "/v1.0/flows/"+f.ID+"/revisions/1/restore", nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")

		e.as(e.alice, "DELETE", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusNoContent)
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/revisions", nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
	})
}

// flowRevision reads the revision of a flow answer.
func flowRevision(t testing.TB, res *response) int {
	t.Helper()
	var f struct{ Revision int }
	res.decode(&f)
	return f.Revision
}

// TestRestoreChecksReferences: a revision that refers to a flow deleted since cannot be restored.
func TestRestoreChecksReferences(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		target := e.createFlow(e.alice, `{"name":"target"}`)
		f := e.createFlow(e.alice, `{"name":"v1","on_complete_flow_id":"`+target.ID+`"}`)
		e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, `{"name":"v2"}`).wantStatus(http.StatusOK)
		e.as(e.alice, "DELETE", "/v1.0/flows/"+target.ID, nil).wantStatus(http.StatusNoContent)
		errBody := e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/revisions/1/restore", nil).
			wantError(http.StatusBadRequest, "INVALID_FLOW_REFERENCE")
		if errBody.Details[0].Pointer != "/on_complete_flow_id" {
			t.Errorf("details: %+v", errBody.Details)
		}
	})
}

func TestETags(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"v1"}`)
		path := "/v1.0/flows/" + f.ID
		res := e.as(e.alice, "GET", path, nil).wantStatus(http.StatusOK)
		if res.header.Get("ETag") != `"r1"` {
			t.Fatalf("GET ETag %q", res.header.Get("ETag"))
		}
		for _, inm := range []string{`"r1"`, `W/"r1"`, `"r9", "r1"`, `*`} {
			res := e.as(e.alice, "GET", path, nil, "If-None-Match", inm)
			res.wantStatus(http.StatusNotModified)
			if len(res.body) != 0 || res.header.Get("ETag") != `"r1"` {
				t.Errorf("If-None-Match %s: 304 with body %q, ETag %q", inm, res.body, res.header.Get("ETag"))
			}
		}
		e.as(e.alice, "GET", path, nil, "If-None-Match", `"r2"`).wantStatus(http.StatusOK)

		// If-Match: stale, weak or garbage tags refuse the change and write nothing.
		for _, im := range []string{`"r2"`, `W/"r1"`, `r1`, `"x"`} {
			res := e.as(e.alice, "PUT", path, `{"name":"lost"}`, "If-Match", im)
			errBody := res.wantError(http.StatusPreconditionFailed, "REVISION_MISMATCH")
			if res.header.Get("ETag") != `"r1"` || len(errBody.Details) != 1 {
				t.Fatalf("If-Match %s: ETag %q, details %+v", im, res.header.Get("ETag"), errBody.Details)
			}
			var d struct {
				Error struct {
					Details []struct {
						CurrentRevision int `json:"current_revision"`
					}
				}
			}
			res.decode(&d)
			if d.Error.Details[0].CurrentRevision != 1 {
				t.Errorf("If-Match %s: current_revision %d, want 1", im, d.Error.Details[0].CurrentRevision)
			}
		}
		e.as(e.alice, "DELETE", path, nil, "If-Match", `"r7"`).wantError(http.StatusPreconditionFailed, "REVISION_MISMATCH")
		e.as(e.alice, "POST", path+"/revisions/1/restore", nil, "If-Match", `"r7"`).wantError(http.StatusPreconditionFailed, "REVISION_MISMATCH")
		var cur apiFlow
		e.as(e.alice, "GET", path, nil).wantStatus(http.StatusOK).decode(&cur)
		if cur.Name != "v1" {
			t.Fatalf("a refused change was written: %+v", cur)
		}

		res = e.as(e.alice, "PUT", path, `{"name":"v2"}`, "If-Match", `"r1"`).wantStatus(http.StatusOK)
		if res.header.Get("ETag") != `"r2"` {
			t.Errorf("PUT ETag %q", res.header.Get("ETag"))
		}
		e.as(e.alice, "PUT", path, `{"name":"v3"}`, "If-Match", `"r1", "r2"`).wantStatus(http.StatusOK)
		e.as(e.alice, "PUT", path, `{"name":"v4"}`, "If-Match", `*`).wantStatus(http.StatusOK)
		// A missing flow is 404 whatever the condition.
		e.as(e.alice, "PUT", "/v1.0/flows/"+uuid.NewString(), `{}`, "If-Match", `"r1"`).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
		e.as(e.alice, "DELETE", path, nil, "If-Match", `"r4"`).wantStatus(http.StatusNoContent)
		e.as(e.alice, "DELETE", path, nil, "If-Match", `"r4"`).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
	})
}

func TestRequireIfMatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, func(c *server.Config) { c.RequireIfMatch = true })
	f := e.createFlow(e.alice, `{"name":"v1"}`)
	path := "/v1.0/flows/" + f.ID
	e.as(e.alice, "PUT", path, `{"name":"v2"}`).wantError(http.StatusPreconditionRequired, "IF_MATCH_REQUIRED")
	e.as(e.alice, "DELETE", path, nil).wantError(http.StatusPreconditionRequired, "IF_MATCH_REQUIRED")
	e.as(e.alice, "POST", path+"/revisions/1/restore", nil).wantError(http.StatusPreconditionRequired, "IF_MATCH_REQUIRED")
	e.as(e.alice, "PUT", path, `{"name":"v2"}`, "If-Match", `"r1"`).wantStatus(http.StatusOK)
	e.as(e.alice, "DELETE", path, nil, "If-Match", `"r2"`).wantStatus(http.StatusNoContent)
}

// TestTwoEditors: two people read the same flow and both save with their ETag. Exactly one wins; the other gets
// 412, reads again and reapplies its change. Nothing is lost: both versions are in the history.
func TestTwoEditors(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"shared","actions":[{"type":"answer"}]}`)
		twoEditors(t, e, e, f.ID)
	})
}

// TestTwoEditorsTwoInstances: the same, with each editor on another server process on one PostgreSQL database.
func TestTwoEditorsTwoInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Postgres)
	f := e.createFlow(e.alice, `{"name":"shared","actions":[{"type":"answer"}]}`)
	twoEditors(t, e, e.secondInstance(t, server.Config{}), f.ID)
}

func twoEditors(t *testing.T, first, second *env, flowID string) {
	t.Helper()
	path := "/v1.0/flows/" + flowID
	editors := []struct {
		e    *env
		name string
	}{{first, "edited by one"}, {second, "edited by two"}}
	tags := make([]string, 2)
	for i, ed := range editors {
		tags[i] = ed.e.as(ed.e.alice, "GET", path, nil).wantStatus(http.StatusOK).header.Get("ETag")
	}
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, ed := range editors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := ed.e.withT(t).as(ed.e.alice, "PUT", path, `{"name":"`+ed.name+`"}`, "If-Match", tags[i])
			statuses[i] = res.status
		}()
	}
	wg.Wait()
	var loser int
	switch {
	case statuses[0] == http.StatusOK && statuses[1] == http.StatusPreconditionFailed:
		loser = 1
	case statuses[1] == http.StatusOK && statuses[0] == http.StatusPreconditionFailed:
		loser = 0
	default:
		t.Fatalf("statuses %v: want one 200 and one 412", statuses)
	}
	// The loser reads again and reapplies its change.
	ed := editors[loser]
	tag := ed.e.as(ed.e.alice, "GET", path, nil).wantStatus(http.StatusOK).header.Get("ETag")
	ed.e.as(ed.e.alice, "PUT", path, `{"name":"`+ed.name+`"}`, "If-Match", tag).wantStatus(http.StatusOK)
	hist := first.revisions(first.alice, flowID, "")
	names := map[string]bool{}
	for _, r := range hist.Result {
		names[r.Name] = true
	}
	if len(hist.Result) != 3 || !names["shared"] || !names["edited by one"] || !names["edited by two"] {
		t.Errorf("history: %+v", hist.Result)
	}
}

// secondInstance is another server on the same database, with its own store (connection pool), as a second
// process would be.
func (e *env) secondInstance(t *testing.T, cfg server.Config) *env {
	t.Helper()
	second, _ := e.instanceOn(t, cfg, store.Config{URL: e.storeURL(t)})
	return second
}
