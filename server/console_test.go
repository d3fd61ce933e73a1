package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowbin/flowbin/store/storetest"
)

// TestConsole: the console's page and every asset it loads are served from the binary, none from elsewhere.
func TestConsole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	res := e.do("GET", "/console", nil).wantStatus(http.StatusOK)
	page := string(res.body)
	if !strings.Contains(page, "<title>flowbin console</title>") || !strings.Contains(page, `id="app"`) {
		t.Fatalf("not the console's page:\n%s", page)
	}
	if regexp.MustCompile(`(src|href)=["']?(https?:)?//`).MatchString(page) {
		t.Errorf("the page loads something from the internet (no CDN allowed)")
	}
	assets := regexp.MustCompile(`/console/([A-Za-z0-9._-]+)`).FindAllStringSubmatch(page, -1)
	types := map[string]string{}
	for _, a := range assets {
		res := e.do("GET", "/console/"+a[1], nil).wantStatus(http.StatusOK)
		if len(res.body) < 1000 {
			t.Errorf("%s: %d bytes", a[1], len(res.body))
		}
		types[a[1]] = res.header.Get("Content-Type")
	}
	// The page names its files fingerprinted (assets_test.go): app.<hash>.js.
	fingerprint := regexp.MustCompile(`\.[0-9a-f]{16}\.`)
	plain := map[string]string{}
	for name, typ := range types {
		plain[fingerprint.ReplaceAllString(name, ".")] = typ
	}
	if plain["app.js"] != "application/javascript" || plain["app.css"] != "text/css" {
		t.Errorf("assets and their types: %v; want app.js and app.css", types)
	}
	e.do("GET", "/console/nothing.js", nil).wantError(http.StatusNotFound, "ASSET_NOT_FOUND")
	e.do("GET", "/console/index.html", nil).wantError(http.StatusNotFound, "ASSET_NOT_FOUND")
	e.do("GET", "/console/..%2Fgo.mod", nil).wantError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
}

// TestFlowGraphOfRevision: ?revision= draws an old revision (as an activeflow ran it), on both databases.
func TestFlowGraphOfRevision(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"v1","actions":[{"type":"answer"},{"type":"hangup"}]}`)
		e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, `{"name":"v2","actions":[{"type":"answer"},{"type":"talk","option":{"text":"hi"}},{"type":"hangup"}]}`).
			wantStatus(http.StatusOK)
		type graph struct {
			Nodes []struct{ Type string }
			Edges []struct{ Kind string }
		}
		types := func(g graph) string {
			var s []string
			for _, n := range g.Nodes {
				s = append(s, n.Type)
			}
			return strings.Join(s, " ")
		}
		var now, old graph
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph", nil).wantStatus(http.StatusOK).decode(&now)
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph?format=json&revision=1", nil).wantStatus(http.StatusOK).decode(&old)
		if types(now) != "answer talk hangup" || types(old) != "answer hangup" || len(old.Edges) != 1 {
			t.Errorf("current graph %q, revision 1 %q with %d edges; want answer talk hangup, and answer hangup with 1", types(now), types(old), len(old.Edges))
		}
		res := e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph?format=mermaid&revision=1", nil).wantStatus(http.StatusOK)
		if strings.Contains(string(res.body), "talk") || !strings.Contains(string(res.body), "hangup") {
			t.Errorf("mermaid of revision 1:\n%s", res.body)
		}
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph?revision=3", nil).wantError(http.StatusNotFound, "REVISION_NOT_FOUND")
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID+"/graph?revision=0", nil).wantError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
		e.as(e.bob, "GET", "/v1.0/flows/"+f.ID+"/graph?revision=1", nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
	})
}

// TestConsoleTemplates: every template the console offers for a new flow is valid, without warnings.
func TestConsoleTemplates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	files, err := filepath.Glob(filepath.Join("..", "console", "src", "templates", "*.json"))
	if err != nil || len(files) != 3 {
		t.Fatalf("templates %v (%v); want 3", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			doc, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var rep struct {
				Valid            bool
				Errors, Warnings []struct{ Pointer, Message string }
			}
			e.as(e.alice, "POST", "/v1.0/flows/validate", string(doc)).wantStatus(http.StatusOK).decode(&rep)
			if !rep.Valid || len(rep.Errors)+len(rep.Warnings) > 0 {
				t.Errorf("valid %v, errors %v, warnings %v", rep.Valid, rep.Errors, rep.Warnings)
			}
		})
	}
}
