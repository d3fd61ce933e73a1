package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestPagesHaveAStrictCSP: /console and /docs answer a Content-Security-Policy that runs no inline script, lets
// the pages talk to this server and the configured CORS origins only, and forbids framing; and neither page holds
// an inline script that such a policy would stop (e2e.TestPagesUnderCSPInChromium runs them in a browser).
func TestPagesHaveAStrictCSP(t *testing.T) {
	e := newEnv(t, storetest.SQLite, func(c *server.Config) { c.CORSOrigins = []string{"https://console.example"} })
	inline := regexp.MustCompile(`<script(\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|javascript:`)
	for _, path := range []string{"/console", "/docs"} {
		res := e.do("GET", path, nil).wantStatus(http.StatusOK)
		csp := res.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self';", "connect-src 'self' https://console.example;",
			"frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows eval", path, csp)
		}
		// Only the console's editor writes <style> elements; no page allows inline script.
		wantStyle := map[string]string{"/console": "style-src 'self' 'unsafe-inline';", "/docs": "style-src 'self';"}[path]
		if !strings.Contains(csp, wantStyle) {
			t.Errorf("%s: CSP %q lacks %q", path, csp, wantStyle)
		}
		if m := inline.FindString(string(res.body)); m != "" {
			t.Errorf("%s holds inline script %q:\n%s", path, m, res.body)
		}
	}
	if csp := newEnv(t, storetest.SQLite).do("GET", "/docs", nil).header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self';") {
		t.Errorf("without CORS origins: %q", csp)
	}
}

// TestEmbeddedAssets: the pages and their files are answered by one handler: compressed as the client accepts
// (br, else gzip), with strong ETags answered 304, cached for a year under fingerprinted names (which the pages
// reference) and revalidated otherwise; HEAD is answered wherever GET is, without the body.
func TestEmbeddedAssets(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	for _, c := range []struct{ page, prefix string }{{"/console", "/console/"}, {"/docs", "/docs/"}} {
		page := e.do("GET", c.page, nil).wantStatus(http.StatusOK)
		if cc := page.header.Get("Cache-Control"); cc != "no-cache" || page.header.Get("ETag") == "" {
			t.Errorf("%s: Cache-Control %q, ETag %q: want no-cache and a validator", c.page, cc, page.header.Get("ETag"))
		}
		refs := regexp.MustCompile(regexp.QuoteMeta(c.prefix)+`([A-Za-z0-9_.-]+)\.([0-9a-f]{16})\.(js|css|png)`).FindAllStringSubmatch(string(page.body), -1)
		if len(refs) < 2 {
			t.Fatalf("%s references %d fingerprinted files:\n%s", c.page, len(refs), page.body)
		}
		for _, ref := range refs {
			fp, plain := ref[0], c.prefix+ref[1]+"."+ref[3]
			identity := e.do("GET", plain, nil, "Accept-Encoding", "identity").wantStatus(http.StatusOK)
			if identity.header.Get("Cache-Control") != "no-cache" {
				t.Errorf("%s: Cache-Control %q, want no-cache", plain, identity.header.Get("Cache-Control"))
			}
			res := e.do("GET", fp, nil, "Accept-Encoding", "identity").wantStatus(http.StatusOK)
			if cc := res.header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("%s: Cache-Control %q", fp, cc)
			}
			if !bytes.Equal(res.body, identity.body) {
				t.Errorf("%s and %s differ", fp, plain)
			}
			if ref[3] == "png" || len(identity.body) < 512 { // not worth compressing
				if res := e.do("GET", fp, nil, "Accept-Encoding", "br"); res.header.Get("Content-Encoding") != "" {
					t.Errorf("%s: compressed as %s", fp, res.header.Get("Content-Encoding"))
				}
				continue
			}
			for _, enc := range []string{"br", "gzip"} {
				accept := map[string]string{"br": "gzip, deflate, br", "gzip": "gzip, br;q=0"}[enc]
				res := e.do("GET", fp, nil, "Accept-Encoding", accept).wantStatus(http.StatusOK)
				if res.header.Get("Content-Encoding") != enc || res.header.Get("Vary") != "Accept-Encoding" {
					t.Fatalf("%s with Accept-Encoding %q: Content-Encoding %q, Vary %q", fp, accept,
						res.header.Get("Content-Encoding"), res.header.Get("Vary"))
				}
				var r io.Reader = brotli.NewReader(bytes.NewReader(res.body))
				if enc == "gzip" {
					zr, err := gzip.NewReader(bytes.NewReader(res.body))
					if err != nil {
						t.Fatal(err)
					}
					r = zr
				}
				plainBody, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(plainBody, identity.body) {
					t.Fatalf("%s in %s does not decode to the file: %v", fp, enc, err)
				}
				if len(res.body) >= len(identity.body) {
					t.Errorf("%s in %s: %d bytes, not smaller than %d", fp, enc, len(res.body), len(identity.body))
				}
				etag := res.header.Get("ETag")
				if etag == identity.header.Get("ETag") {
					t.Errorf("%s: the %s body has the identity's ETag %s", fp, enc, etag)
				}
				e.do("GET", fp, nil, "Accept-Encoding", accept, "If-None-Match", etag).wantStatus(http.StatusNotModified)
				e.do("GET", fp, nil, "If-None-Match", `W/`+etag).wantStatus(http.StatusNotModified)
			}
		}
		e.do("GET", c.page, nil, "If-None-Match", page.header.Get("ETag")).wantStatus(http.StatusNotModified)
		e.do("GET", c.page, nil, "If-None-Match", `"0000000000000000"`).wantStatus(http.StatusOK)
	}

	// HEAD, wherever GET is: the same status and headers, no body. (Not through the contract client: the spec
	// documents HEAD in its description, not as operations.)
	token := e.login("alice", "alice-password")
	for _, c := range []struct {
		path   string
		status int
		auth   bool
	}{{"/console", 200, false}, {"/docs/swagger-ui.css", 200, false}, {"/openapi.json", 200, false}, {"/healthz", 200, false},
		{"/v1.0/flows", 200, true}, {"/v1.0/flows", 401, false}, {"/v1.0/flows/00000000-0000-0000-0000-000000000001", 404, true}} {
		get := rawRequest(t, "GET", e.srv.URL+c.path, c.auth, token)
		head := rawRequest(t, "HEAD", e.srv.URL+c.path, c.auth, token)
		if head.StatusCode != c.status || get.StatusCode != c.status {
			t.Errorf("HEAD %s: %d (GET %d), want %d", c.path, head.StatusCode, get.StatusCode, c.status)
		}
		for _, h := range []string{"Content-Type", "Content-Length", "ETag", "Cache-Control"} {
			if head.Header.Get(h) != get.Header.Get(h) {
				t.Errorf("HEAD %s: %s %q, GET's %q", c.path, h, head.Header.Get(h), get.Header.Get(h))
			}
		}
	}
	res := rawRequest(t, "OPTIONS", e.srv.URL+"/v1.0/flows", false, "")
	if allow := res.Header.Get("Allow"); allow != "GET, HEAD, POST" {
		t.Errorf("Allow %q, want GET, HEAD, POST", allow)
	}
}

// rawRequest sends a request with no transparent decompression, and reads the body (empty for HEAD).
func rawRequest(t *testing.T, method, url string, auth bool, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	if auth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if method == http.MethodHead && len(b) != 0 {
		t.Errorf("HEAD %s has a body of %d bytes", url, len(b))
	}
	return res
}
