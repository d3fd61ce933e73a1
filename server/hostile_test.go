package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/server"
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
	// Numbers that no database column holds, in every field that an operation reads (and strings that are not).
	{"numbers beyond a double", "application/json", `{"name":1e999999,"expire":1e999999,"username":1e999999,"password":-1e999999,` +
		`"flow_id":1e999999,"current_action_id":1e999999,"actions":[{"type":"talk","option":{"text":"hi","n":1e999999}}]}`},
	{"numbers that underflow", "application/json", `{"name":1e-999999,"expire":1e-999999,"username":1e-999999,"password":1e-999999,` +
		`"flow_id":1e-999999,"current_action_id":1e-999999,"actions":[{"type":"talk","option":{"unknown":1e-999999}}]}`},
	{"140,000 digits", "application/json", `{"name":0,"expire":` + strings.Repeat("7", 140000) + `,"username":0,"password":0,` +
		`"flow_id":0,"actions":[{"type":"digits_receive","option":{"length":` + strings.Repeat("7", 140000) + `}}]}`},
	// Validation that would cost seconds: a near miss of a type for every did-you-mean to work on.
	{"1 MiB of unknown types", "application/json", unknownTypes(1<<20 - 200)},
	{"wrong types", "application/json", `{"name":[],"expire":"soon","username":{},"password":1,"current_action_id":false,"actions":"all"}`},
	{"array", "application/json", `[{"name":"x"}]`},
	{"null", "application/json", `null`},
	{"text/plain", "text/plain", `{"name":"x"}`},
	{"XML", "application/xml", `<flow><name>x</name></flow>`},
	{"form", "application/x-www-form-urlencoded", `name=x&expire=86400`},
	{"multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--x--\r\n"},
}

// unknownTypes is a body of about n bytes of actions of unknown 64-character types, each a different near miss;
// its name is not a string, so that operations that ignore actions refuse it too.
func unknownTypes(n int) string {
	var b strings.Builder
	b.WriteString(`{"name":[],"actions":[{"type":"tlak"}`)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `,{"type":"%s%04d"}`, strings.Repeat("q", 60), i%10000)
	}
	b.WriteString("]}")
	return b.String()
}

// TestHostileBattery sends hundreds of malicious and malformed requests, over every route and method: every one
// is answered 4xx in the error envelope (the contract harness checks each answer), the server stays healthy,
// and the data is unchanged.
func TestHostileBattery(t *testing.T) {
	// Not in parallel with the package: CPU-bound (many large or random requests), its requests could wait past the
	// client timeout under the race detector. Its two stores' runs share the cores instead.
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, strictFields)
		f := e.createFlow(e.alice, `{"name":"precious","actions":[{"type":"answer"},{"type":"talk","option":{"text":"keep me"}}]}`)
		k := e.createKey(e.alice, `{"name":"precious","expire":86400}`)
		a := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
		// Credentials of alice's customer that were revoked: mallory was disabled (her token and her key fail),
		// eve logged out (her token fails).
		mallory := e.addUser("alice-co", "mallory", "mallory-password")
		malloryKey := e.createKey(mallory, `{"name":"mallory's","expire":86400}`)
		eve := e.addUser("alice-co", "eve", "eve-password")
		if err := e.st.DisableUser(context.Background(), "mallory"); err != nil {
			t.Fatal(err)
		}
		if err := e.st.LogoutUser(context.Background(), "eve"); err != nil {
			t.Fatal(err)
		}
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
						{"disabled user's token", "", "Bearer " + mallory.token},
						{"disabled user's key", "?%61ccesskey=" + malloryKey.Token, ""},
						{"logged-out token", "?%74oken=" + eve.token, ""},
						{"encoded forged token", "?%74%6Fken=eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", ""},
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

		// Every early answer to a body is readable by a client that sends all of its 2 MiB first.
		tight := strings.TrimPrefix(tightServer(t, e.srv.Config.Handler).URL, "http://")
		big := []byte(`{"name":"` + strings.Repeat("x", 2<<20) + `"}`)
		halfDuplexed := 0
		for _, path := range paths {
			item := spec.Paths.Find(path)
			concrete := fill(path, map[string]string{"id": idFor(path), "revision": real["revision"], "asset": real["asset"]})
			for method, op := range item.Operations() {
				if op.RequestBody == nil {
					continue
				}
				head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: flowbin\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n",
					method, concrete, e.alice.token, len(big))
				res, body, err := halfDuplex(t, tight, head, big)
				if err != nil {
					t.Errorf("%s %s, 2 MiB sent before reading: %v", method, concrete, err)
					continue
				}
				if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), `"reason":"BODY_TOO_LARGE"`) {
					t.Errorf("%s %s, 2 MiB sent before reading: %d %.200s", method, concrete, res.StatusCode, body)
				}
				halfDuplexed++
			}
		}
		if halfDuplexed < 8 {
			t.Errorf("only %d operations with a body", halfDuplexed)
		}

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

// hostileNumbers are numbers that JSON allows and no database column, nor a double, holds.
var hostileNumbers = []string{"1e999999", "-1e999999", "1e-999999", "-1e-999999", "1e309", "4e-400",
	strings.Repeat("9", 140000), "0." + strings.Repeat("0", 200) + "1", "1" + strings.Repeat("0", 400) + ".5"}

// TestHostileNumbers: a number out of range, anywhere in any body (an option, an unknown option key, an unknown
// field), answers 400 with a pointer to it, on both stores, and nothing is written.
func TestHostileNumbers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"precious","actions":[{"type":"answer"}]}`)
		e.createKey(e.alice, `{"name":"precious","expire":86400}`)
		before := snapshot(e)
		for _, n := range hostileNumbers {
			what := n[:min(len(n), 12)]
			flowBodies := map[string]string{
				"/actions/0/option/length":  `{"name":"x","actions":[{"type":"digits_receive","option":{"length":` + n + `}}]}`,
				"/actions/0/option/unknown": `{"name":"x","actions":[{"type":"talk","option":{"text":"hi","unknown":` + n + `}}]}`,
				"/actions/0/option/deep/0":  `{"name":"x","actions":[{"type":"talk","option":{"text":"hi","deep":[` + n + `]}}]}`,
				"/extra":                    `{"name":"x","extra":` + n + `,"actions":[{"type":"answer"}]}`,
			}
			for ptr, body := range flowBodies {
				for _, target := range []struct{ method, path string }{
					{"POST", "/v1.0/flows"}, {"PUT", "/v1.0/flows/" + f.ID}, {"POST", "/v1.0/flows/simulate"},
				} {
					res := e.as(e.alice, target.method, target.path, body)
					eb := res.wantError(http.StatusBadRequest, res.reasonOf(t))
					if !hasProblem(eb.Details, ptr, "INVALID_NUMBER") {
						t.Errorf("%s %s with %s at %s: details %+v", target.method, target.path, what, ptr, eb.Details)
					}
				}
				var rep validationReport
				e.as(e.alice, "POST", "/v1.0/flows/validate", body).wantStatus(http.StatusOK).decode(&rep)
				if rep.Valid || !hasProblem(rep.Errors, ptr, "INVALID_NUMBER") {
					t.Errorf("validate with %s at %s: %+v", what, ptr, rep)
				}
			}
			for _, other := range []struct{ method, path, body string }{
				{"POST", "/v1.0/accesskeys", `{"name":"x","expire":` + n + `}`},
				{"POST", "/v1.0/activeflows", `{"flow_id":"` + f.ID + `","variables":{"a":` + n + `}}`},
				{"POST", "/auth/login", `{"username":"alice","password":` + n + `}`},
			} {
				if res := e.as(e.alice, other.method, other.path, other.body); res.status != http.StatusBadRequest {
					t.Errorf("%s %s with %s: status %d: %.300s", other.method, other.path, what, res.status, res.body)
				}
			}
		}
		if after := snapshot(e); after != before {
			t.Errorf("the data changed:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// reasonOf is the envelope's reason of an error answer (for checks that only care about the details).
func (r *response) reasonOf(t *testing.T) string {
	var e struct{ Error errorBody }
	if json.Unmarshal(r.body, &e) != nil {
		t.Fatalf("not an envelope: %s", r.body)
	}
	return e.Error.Reason
}

func hasProblem(details []errorDetail, pointer, reason string) bool {
	for _, d := range details {
		if d.Pointer == pointer && d.Reason == reason {
			return true
		}
	}
	return false
}

// TestHostileValidationCost: 1 MiB of misspelt action types (near misses of "talk", then 64-character types that
// are each a near miss of the others) is answered with the first problems only, and did-you-mean suggestions for
// at most flow.MaxSuggestions of them (BenchmarkParseUnknownTypes in package flow measures the cost: about
// 20 MB/s, where it took seconds).
func TestHostileValidationCost(t *testing.T) {
	// Not in parallel with the package: CPU-bound (many large or random requests), its requests could wait past the
	// client timeout under the race detector. Its two stores' runs share the cores instead.
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, func(c *server.Config) { c.MaxActions = 100_000 })
		var doc strings.Builder
		doc.WriteString(`{"name":"x","actions":[{"type":"tlak"}`)
		for doc.Len() < 1<<19 {
			doc.WriteString(`,{"type":"tlak"}`)
		}
		for i := 0; doc.Len() < 1<<20-100; i++ {
			fmt.Fprintf(&doc, `,{"type":"%s%04d"}`, strings.Repeat("q", 60), i%10000)
		}
		doc.WriteString("]}")
		var rep validationReport
		e.as(e.alice, "POST", "/v1.0/flows/validate", doc.String()).wantStatus(http.StatusOK).decode(&rep)
		if rep.Valid || len(rep.Errors) != flow.MaxProblems {
			t.Fatalf("got %d errors: %+v", len(rep.Errors), rep.Errors[:min(len(rep.Errors), 2)])
		}
		suggested := 0
		for i, p := range rep.Errors {
			if p.Reason != "INVALID_ACTION_TYPE" || p.Pointer != fmt.Sprintf("/actions/%d/type", i) {
				t.Errorf("unexpected problem %+v", p)
			}
			if strings.Contains(p.Message, `did you mean "talk"?`) {
				suggested++
			}
		}
		if suggested != flow.MaxSuggestions {
			t.Errorf("%d suggestions, want %d", suggested, flow.MaxSuggestions)
		}
		e.as(e.alice, "POST", "/v1.0/flows", doc.String()).wantError(http.StatusBadRequest, "INVALID_ACTION_TYPE")
		if n := e.countFlows(e.alice); n != 0 {
			t.Errorf("%d flows stored", n)
		}
	})
}
