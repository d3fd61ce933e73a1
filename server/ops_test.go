package server_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	flowbin "github.com/flowbin/flowbin"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		res := e.do("GET", "/healthz", nil).wantStatus(http.StatusOK)
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Server": ""} {
			if got := res.header.Get(h); got != want {
				t.Errorf("%s: got %q, want %q", h, got, want)
			}
		}
		e.do("GET", "/readyz", nil).wantStatus(http.StatusOK)
		// With the database gone, the process is still alive but not ready.
		if err := e.st.Close(); err != nil {
			t.Fatal(err)
		}
		e.do("GET", "/healthz", nil).wantStatus(http.StatusOK)
		e.do("GET", "/readyz", nil).wantError(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	})
}

func TestSpecIsServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	res := e.do("GET", "/openapi.yaml", nil).wantStatus(http.StatusOK)
	if string(res.body) != string(flowbin.OpenAPIYAML()) {
		t.Errorf("/openapi.yaml differs from openapi.yaml")
	}
	var fromYAML, fromJSON any
	if err := yaml.Unmarshal(flowbin.OpenAPIYAML(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/openapi.json", nil).wantStatus(http.StatusOK).decode(&fromJSON)
	a, _ := json.Marshal(fromYAML)
	b, _ := json.Marshal(fromJSON)
	if string(a) != string(b) {
		t.Errorf("/openapi.json differs from openapi.yaml")
	}
}

// TestDocs: Swagger UI is served from the binary, and every asset its page loads is there.
func TestDocs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	res := e.do("GET", "/docs", nil).wantStatus(http.StatusOK)
	page := string(res.body)
	if !strings.Contains(page, "/openapi.json") || !strings.Contains(page, "swagger-ui") {
		t.Fatalf("not the Swagger UI page for /openapi.json:\n%s", page)
	}
	if regexp.MustCompile(`(src|href)=["']?(https?:)?//`).MatchString(page) {
		t.Errorf("the page loads something from the internet (no CDN allowed)")
	}
	assets := regexp.MustCompile(`/docs/([A-Za-z0-9._-]+)`).FindAllStringSubmatch(page, -1)
	if len(assets) < 3 {
		t.Fatalf("the page references %d assets", len(assets))
	}
	for _, a := range assets {
		res := e.do("GET", "/docs/"+a[1], nil).wantStatus(http.StatusOK)
		if len(res.body) == 0 || res.header.Get("Content-Type") == "" {
			t.Errorf("%s: empty, or without a content type", a[1])
		}
	}
	// The credential given to Authorize stays in the page's memory, unless the operator chose localStorage.
	if !strings.Contains(page, `data-persist-authorization="false"`) {
		t.Errorf("the page does not keep credentials in memory only:\n%s", page)
	}
	persisting := newEnv(t, storetest.SQLite, func(c *server.Config) { c.DocsPersistAuthorization = true })
	if page := string(persisting.do("GET", "/docs", nil).wantStatus(http.StatusOK).body); !strings.Contains(page, `data-persist-authorization="true"`) {
		t.Errorf("DocsPersistAuthorization does not reach the page:\n%s", page)
	}
	e.do("GET", "/docs/nothing.js", nil).wantError(http.StatusNotFound, "ASSET_NOT_FOUND")
	e.do("GET", "/docs/..%2Fgo.mod", nil).wantError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
}
