package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/flowbin/flowbin/store/storetest"
)

// hostile is one malicious or malformed request of the battery.
type hostile struct {
	what, method, path string
	body               any
	header             []string
}

// hostileIDs are path parameters that are not ids: injection, traversal, encoding tricks, sheer size.
var hostileIDs = []string{
	url.PathEscape("1' OR '1'='1"), url.PathEscape("'; DROP TABLE flows; --"), "..%2F..%2Fetc%2Fpasswd",
	"%2e%2e%2f%2e%2e%2f", "%00", "%ff%fe", url.PathEscape("{{7*7}}"), url.PathEscape("<script>alert(1)</script>"),
	url.PathEscape("ⓤⓤⓘⓓ"), strings.Repeat("9", 5000), "00000000-0000-0000-0000-00000000000g",
	"00000000000000000000000000000000", url.PathEscape(`" OR ""="`),
}

// hostileBodies are bodies no operation accepts.
var hostileBodies = []struct {
	what, contentType string
	body              any
}{
	{"broken JSON", "application/json", `{"name":`},
	{"broken string", "application/json", `{"name":"abc}`},
	{"bare word", "application/json", `undefined`},
	{"trailing comma", "application/json", `{"name":"x",}`},
	{"single quotes", "application/json", `{'name':'x'}`},
	{"two values", "application/json", `{} {}`},
	{"comment", "application/json", `{/* hi */}`},
	{"NaN", "application/json", `{"expire":NaN}`},
	{"deep nesting", "application/json", strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)},
	{"deep arrays", "application/json", strings.Repeat("[", 100000)},
	{"10 MB", "application/json", `{"name":"` + strings.Repeat("x", 10<<20) + `"}`},
	{"invalid UTF-8", "application/json", []byte("{\"name\":\"\xc3\x28\xff\"}")},
	{"NUL escape", "application/json", `{"name":"nul\u0000nul","actions":[{"type":"answer"}]}`},
	{"injection in keys", "application/json", `{"name\":1,\"admin":true, "' OR 1=1 --":"x"}`},
	{"SQL in an unknown field", "application/json", `{"'; DROP TABLE flows; --":1}`},
	{"prototype pollution", "application/json", `{"__proto__":{"admin":true},"constructor":{"prototype":{}}}`},
	{"huge number", "application/json", `{"expire":1e999999}`},
	{"wrong types", "application/json", `{"name":[],"expire":"soon","username":{},"password":1,"current_action_id":false,"actions":"all"}`},
	{"array", "application/json", `[{"name":"x"}]`},
	{"null", "application/json", `null`},
	{"text/plain", "text/plain", `{"name":"x"}`},
	{"XML", "application/xml", `<flow><name>x</name></flow>`},
	{"form", "application/x-www-form-urlencoded", `name=x&expire=86400`},
	{"multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--x--\r\n"},
}

// TestHostileBattery sends hundreds of malicious and malformed requests, over every route and method: every one
// is answered 4xx in the error envelope (the contract harness checks each answer), the server stays healthy,
// and the data is unchanged.
func TestHostileBattery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, strictFields)
		f := e.createFlow(e.alice, `{"name":"precious","actions":[{"type":"answer"},{"type":"talk","option":{"text":"keep me"}}]}`)
		k := e.createKey(e.alice, `{"name":"precious","expire":86400}`)
		a := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
		before := snapshot(e)

		real := map[string]string{"id": f.ID, "revision": "1", "asset": "swagger-ui.css"}
		fill := func(template string, values map[string]string) string {
			for name, v := range values {
				template = strings.ReplaceAll(template, "{"+name+"}", v)
			}
			return template
		}
		idFor := func(path string) string {
			switch {
			case strings.HasPrefix(path, "/v1.0/accesskeys/"):
				return k.ID
			case strings.HasPrefix(path, "/v1.0/activeflows/"):
				return a.ID
			}
			return f.ID
		}

		var battery []hostile
		spec := contract.Spec()
		paths := spec.Paths.InMatchingOrder()
		sort.Strings(paths)
		for _, path := range paths {
			item := spec.Paths.Find(path)
			values := map[string]string{"id": idFor(path), "revision": real["revision"], "asset": real["asset"]}
			concrete := fill(path, values)
			// Every method the route does not have.
			for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"} {
				if item.GetOperation(m) == nil {
					battery = append(battery, hostile{what: "method " + m, method: m, path: concrete, header: bearer(e.alice)})
				}
			}
			for method, op := range item.Operations() {
				protected := op.Security == nil || len(*op.Security) > 0
				// Hostile credentials.
				if protected {
					for _, cred := range []struct{ what, query, header string }{
						{"SQL token", "?token=" + url.QueryEscape("' OR '1'='1' --"), ""},
						{"forged token", "?token=eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", ""},
						{"SQL access key", "?accesskey=" + url.QueryEscape("fbk_' OR 1=1; --"), ""},
						{"huge bearer", "", "Bearer " + strings.Repeat("A", 8000)},
						{"basic auth", "", "Basic YWRtaW46YWRtaW4="},
					} {
						h := []string{}
						if cred.header != "" {
							h = []string{"Authorization", cred.header}
						}
						battery = append(battery, hostile{what: cred.what, method: method, path: concrete + cred.query, header: h,
							body: bodyFor(op)})
					}
				}
				// Hostile path parameters.
				if strings.Contains(path, "{") && path != "/docs/{asset}" {
					for _, id := range hostileIDs {
						battery = append(battery, hostile{what: "id " + id[:min(len(id), 20)], method: method,
							path: fill(path, map[string]string{"id": id, "revision": id}), header: bearer(e.alice), body: bodyFor(op)})
					}
				}
				// Hostile bodies.
				if op.RequestBody != nil {
					for _, hb := range hostileBodies {
						battery = append(battery, hostile{what: "body " + hb.what, method: method, path: concrete, body: hb.body,
							header: append(bearer(e.alice), "Content-Type", hb.contentType)})
					}
				}
				// Oversized headers.
				battery = append(battery, hostile{what: "oversized header", method: method, path: concrete, body: bodyFor(op),
					header: append(bearer(e.alice), "X-Padding", strings.Repeat("p", 64<<10))})
			}
		}
		// Hostile query parameters, idempotency keys and preconditions.
		for _, list := range []string{"/v1.0/flows", "/v1.0/accesskeys", "/v1.0/activeflows", "/v1.0/flows/" + f.ID + "/revisions"} {
			for _, q := range []string{"page_size=" + url.QueryEscape("1 OR 1=1"), "page_size=-1e999", "page_size=0x10",
				"page_token=" + url.QueryEscape("'; DROP TABLE flows; --"), "page_token=" + url.QueryEscape("2020-01-01 00:00:00.000000' OR '1'='1"),
				"page_size=" + strings.Repeat("9", 400)} {
				battery = append(battery, hostile{what: "query " + q[:min(len(q), 20)], method: "GET", path: list + "?" + q, header: bearer(e.alice)})
			}
		}
		for _, key := range []string{"key with spaces", strings.Repeat("k", 300), "ключ"} {
			battery = append(battery, hostile{what: "idempotency key", method: "POST", path: "/v1.0/flows", body: `{"name":"x"}`,
				header: append(bearer(e.alice), "Idempotency-Key", key)})
		}
		for _, tag := range []string{`"r0"`, `W/"r1"`, `' OR 1=1 --`, strings.Repeat(`"r9",`, 300)} {
			battery = append(battery, hostile{what: "If-Match " + tag[:min(len(tag), 10)], method: "PUT", path: "/v1.0/flows/" + f.ID,
				body: `{"name":"overwritten"}`, header: append(bearer(e.alice), "If-Match", tag)})
		}

		if len(battery) < 500 {
			t.Fatalf("only %d requests in the battery", len(battery))
		}
		for _, h := range battery {
			res := e.do(h.method, h.path, h.body, h.header...)
			if res.status == http.StatusOK && h.path == "/v1.0/flows/validate" {
				// Validation answers a flow object's problems in a report: it must say the flow is not valid.
				var rep validationReport
				res.decode(&rep)
				if rep.Valid {
					t.Errorf("validate (%s): valid", h.what)
				}
				continue
			}
			if res.status < 400 || res.status > 499 {
				t.Errorf("%s %s (%s): status %d: %.200s", h.method, h.path[:min(len(h.path), 80)], h.what, res.status, res.body)
			}
		}
		t.Logf("%d hostile requests", len(battery))

		e.do("GET", "/healthz", nil).wantStatus(http.StatusOK)
		e.do("GET", "/readyz", nil).wantStatus(http.StatusOK)
		if after := snapshot(e); after != before {
			t.Errorf("the data changed:\nbefore %s\nafter  %s", before, after)
		}
	})
}

func bearer(u user) []string { return []string{"Authorization", "Bearer " + u.token} }

// bodyFor is a valid body for an operation, so that only the hostile part of a request is wrong.
func bodyFor(op *openapi3.Operation) any {
	if op.RequestBody == nil {
		return nil
	}
	return `{"name":"x","expire":86400,"username":"alice","password":"alice-password","actions":[{"type":"answer"}]}`
}

// snapshot is everything alice has, as JSON.
func snapshot(e *env) string {
	e.t.Helper()
	var parts []string
	for _, path := range []string{"/v1.0/flows", "/v1.0/accesskeys", "/v1.0/activeflows"} {
		var v any
		e.as(e.alice, "GET", path, nil).wantStatus(http.StatusOK).decode(&v)
		b, _ := json.Marshal(v)
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "\n")
}
