package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"gopkg.in/yaml.v3"

	flowbin "github.com/flowbin/flowbin"
	"github.com/flowbin/flowbin/store/storetest"
)

func TestHealthAndReadiness(t *testing.T) {
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
