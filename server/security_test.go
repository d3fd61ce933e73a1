package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	for _, path := range []string{"/healthz", "/v1.0/flows", "/nowhere", "/docs"} {
		res := e.do("GET", path, nil, "Origin", "https://evil.example")
		if res.header.Get("X-Content-Type-Options") != "nosniff" || res.header.Get("Server") != "" ||
			res.header.Get("X-Powered-By") != "" || res.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: headers %v", path, res.header)
		}
	}
}

func TestHeaderSizeLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	e.as(e.alice, "GET", "/v1.0/flows", nil, "X-Padding", strings.Repeat("a", 30_000)).wantStatus(http.StatusOK)
	e.as(e.alice, "GET", "/v1.0/flows", nil, "X-Padding", strings.Repeat("a", 40_000)).wantError(http.StatusRequestHeaderFieldsTooLarge, "HEADERS_TOO_LARGE")
	e.do("GET", "/healthz?"+strings.Repeat("q", 40_000), nil).wantError(http.StatusRequestHeaderFieldsTooLarge, "HEADERS_TOO_LARGE")
}

// TestCORS: off by default; with FLOWBIN_CORS_ORIGINS, browsers of those origins may call the API.
func TestCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, func(c *server.Config) { c.CORSOrigins = []string{"https://app.example"} })
	// Preflight requests are CORS protocol, not API operations: sent without the contract check.
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/v1.0/flows", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,idempotency-key")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res := preflight("https://app.example")
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "idempotency-key") {
		t.Errorf("allowed preflight: %d %v", res.StatusCode, res.Header)
	}
	if res := preflight("https://evil.example"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin is allowed: %v", res.Header)
	}
	got := e.as(e.alice, "GET", "/v1.0/flows", nil, "Origin", "https://app.example").wantStatus(http.StatusOK)
	if got.header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(got.header.Get("Access-Control-Expose-Headers"), "Etag") &&
		!strings.Contains(got.header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("simple request: %v", got.header)
	}

	off := newEnv(t, storetest.SQLite)
	req, _ := http.NewRequest("OPTIONS", off.srv.URL+"/v1.0/flows", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS off: preflight %d %v", res.StatusCode, res.Header)
	}
}
