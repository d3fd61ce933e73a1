package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/flowbin/flowbin/store/storetest"
)

// TestBadInput sends malformed and invalid requests of every kind: each gets its documented 4xx in the error
// envelope (the contract harness checks the envelope), never a 5xx.
func TestBadInput(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, strictFields)
		f := e.createFlow(e.alice, `{"name":"existing"}`)
		flowPath := "/v1.0/flows/" + f.ID
		long := strings.Repeat("x", 10_000)
		deep := strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)
		cases := []struct {
			name, method, path string
			body               any
			header             []string
			status             int
			reason             string
			pointer            string // of the first detail, when set
		}{
			{"malformed JSON", "POST", "/v1.0/flows", `{"name":`, nil, 400, "INVALID_JSON_BODY", ""},
			{"malformed JSON on PUT", "PUT", flowPath, `{"name" "x"}`, nil, 400, "INVALID_JSON_BODY", ""},
			{"trailing data", "POST", "/v1.0/flows", `{"name":"x"} {"name":"y"}`, nil, 400, "INVALID_JSON_BODY", ""},
			{"empty body", "POST", "/v1.0/flows", "", nil, 400, "INVALID_JSON_BODY", ""},
			{"no body", "POST", "/v1.0/flows", nil, nil, 400, "INVALID_JSON_BODY", ""},
			{"array body", "POST", "/v1.0/flows", `[]`, nil, 400, "INVALID_REQUEST_BODY", ""},
			{"string body", "POST", "/v1.0/flows", `"flow"`, nil, 400, "INVALID_REQUEST_BODY", ""},
			{"wrong type of name", "POST", "/v1.0/flows", `{"name":5}`, nil, 400, "INVALID_FIELD", "/name"},
			{"wrong type of actions", "POST", "/v1.0/flows", `{"actions":{}}`, nil, 400, "INVALID_FIELD", "/actions"},
			{"action not an object", "POST", "/v1.0/flows", `{"actions":["answer"]}`, nil, 400, "INVALID_ACTION", "/actions/0"},
			{"unknown field", "POST", "/v1.0/flows", `{"nmae":"x"}`, nil, 400, "UNKNOWN_FIELD", "/nmae"},
			{"unknown action field", "PUT", flowPath, `{"actions":[{"type":"answer","optoin":{}}]}`, nil, 400, "UNKNOWN_FIELD", "/actions/0/optoin"},
			{"duplicate key", "POST", "/v1.0/flows", `{"name":"a","name":"b"}`, nil, 400, "DUPLICATE_KEY", "/name"},
			{"huge name", "POST", "/v1.0/flows", `{"name":"` + long + `"}`, nil, 400, "INVALID_FIELD", "/name"},
			{"huge detail", "POST", "/v1.0/flows", `{"detail":"` + long + `"}`, nil, 400, "INVALID_FIELD", "/detail"},
			{"NUL in a string", "POST", "/v1.0/flows", `{"name":"a\u0000b"}`, nil, 400, "INVALID_STRING", ""},
			{"unpaired surrogate", "POST", "/v1.0/flows", `{"name":"\ud800"}`, nil, 400, "INVALID_STRING", "/name"},
			{"invalid UTF-8", "POST", "/v1.0/flows", []byte("{\"name\":\"\xff\xfe\"}"), nil, 400, "INVALID_JSON_BODY", ""},
			{"deep nesting", "POST", "/v1.0/flows", `{"actions":[{"type":"answer","option":` + deep + `}]}`, nil, 400, "INVALID_JSON_BODY", ""},
			{"body too large", "POST", "/v1.0/flows", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, nil, 413, "BODY_TOO_LARGE", ""},
			{"wrong content type", "POST", "/v1.0/flows", `{"name":"x"}`, []string{"Content-Type", "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
			{"form content type", "POST", "/v1.0/accesskeys", `expire=86400`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
			{"no content type", "PUT", flowPath, `{"name":"x"}`, []string{"Content-Type", ""}, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
			{"bad UUID", "GET", "/v1.0/flows/not-a-uuid", nil, nil, 400, "INVALID_ID", ""},
			{"bad UUID on PUT", "PUT", "/v1.0/flows/123", `{}`, nil, 400, "INVALID_ID", ""},
			{"bad UUID on DELETE", "DELETE", "/v1.0/flows/" + f.ID + "x", nil, nil, 400, "INVALID_ID", ""},
			{"SQL in the id", "GET", "/v1.0/flows/1%27%20OR%20%271%27=%271", nil, nil, 400, "INVALID_ID", ""},
			{"bare hex UUID", "GET", "/v1.0/flows/" + strings.ReplaceAll(f.ID, "-", ""), nil, nil, 400, "INVALID_ID", ""},
			{"page_size negative", "GET", "/v1.0/flows?page_size=-1", nil, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"page_size not an integer", "GET", "/v1.0/flows?page_size=ten", nil, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"page_size fraction", "GET", "/v1.0/flows?page_size=1.5", nil, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"page_size huge", "GET", "/v1.0/flows?page_size=99999999999999999999", nil, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"page_token garbage", "GET", "/v1.0/flows?page_token=yesterday", nil, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"page_token impossible date", "GET", "/v1.0/flows?page_token=2020-13-45%2099:99:99.000000", nil, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"page_token RFC 3339 without a zone", "GET", "/v1.0/flows?page_token=2020-10-11T01:00:00", nil, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"page_token RFC 3339 impossible date", "GET", "/v1.0/flows?page_token=2020-02-30T01:00:00Z", nil, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"field_validation unknown", "POST", "/v1.0/flows?field_validation=Lenient", `{"name":"x"}`, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"field_validation in lower case", "PUT", flowPath + "?field_validation=strict", `{"name":"x"}`, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"field_validation on an access key", "POST", "/v1.0/accesskeys?field_validation=warn", `{"expire":86400}`, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"page_token on access keys", "GET", "/v1.0/accesskeys?page_token=x", nil, nil, 400, "INVALID_REQUEST_PARAMETER", ""},
			{"accesskey expire too short", "POST", "/v1.0/accesskeys", `{"expire":10}`, nil, 400, "INVALID_REQUEST_BODY", "/expire"},
			{"accesskey expire missing", "POST", "/v1.0/accesskeys", `{"name":"k"}`, nil, 400, "INVALID_REQUEST_BODY", ""},
			{"accesskey expire wrong type", "POST", "/v1.0/accesskeys", `{"expire":"1d"}`, nil, 400, "INVALID_REQUEST_BODY", "/expire"},
			{"accesskey unknown field", "POST", "/v1.0/accesskeys", `{"expire":86400,"scope":"all"}`, nil, 400, "INVALID_REQUEST_BODY", ""},
			{"accesskey bad JSON", "POST", "/v1.0/accesskeys", `{"expire":`, nil, 400, "INVALID_JSON_BODY", ""},
			{"accesskey NUL", "PUT", "/v1.0/accesskeys/" + f.ID, `{"name":"\u0000"}`, nil, 400, "INVALID_STRING", ""},
			{"login missing fields", "POST", "/auth/login", `{}`, nil, 400, "INVALID_REQUEST_BODY", ""},
			{"login wrong types", "POST", "/auth/login", `{"username":1,"password":true}`, nil, 400, "INVALID_REQUEST_BODY", "/password"},
			{"login empty body", "POST", "/auth/login", nil, nil, 400, "INVALID_REQUEST_BODY", ""},
			{"unknown route", "GET", "/v1.0/nothing", nil, nil, 404, "ROUTE_NOT_FOUND", ""},
			{"unknown version", "GET", "/v2.0/flows", nil, nil, 404, "ROUTE_NOT_FOUND", ""},
			{"path traversal", "GET", "/v1.0/flows/../../etc/passwd", nil, nil, 404, "ROUTE_NOT_FOUND", ""},
			{"path traversal elsewhere", "GET", "/v1.0/../openapi.yaml/x", nil, nil, 404, "ROUTE_NOT_FOUND", ""},
			{"wrong method", "PATCH", flowPath, `{}`, nil, 405, "METHOD_NOT_ALLOWED", ""},
			{"wrong method on list", "DELETE", "/v1.0/flows", nil, nil, 405, "METHOD_NOT_ALLOWED", ""},
			{"OPTIONS", "OPTIONS", "/v1.0/flows", nil, nil, 405, "METHOD_NOT_ALLOWED", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := e.withT(t)
				header := append([]string{"Authorization", "Bearer " + e.alice.token}, c.header...)
				res := e.do(c.method, c.path, c.body, header...)
				if res.status >= 500 {
					t.Fatalf("got %d: %s", res.status, res.body)
				}
				errBody := res.wantError(c.status, c.reason)
				if c.pointer != "" && (len(errBody.Details) == 0 || errBody.Details[0].Pointer != c.pointer) {
					t.Errorf("first detail: got %+v, want pointer %s", errBody.Details, c.pointer)
				}
				if c.status == 405 && res.header.Get("Allow") == "" {
					t.Errorf("405 without an Allow header")
				}
			})
		}
		// Nothing above changed the data.
		var list apiFlowList
		e.as(e.alice, "GET", "/v1.0/flows", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 1 || list.Result[0].Name != "existing" {
			t.Errorf("data changed: %+v", list.Result)
		}
	})
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	res := e.do("GET", "/v1.0/flows", nil, "X-Request-Id", "my-trace_42")
	if got := res.wantError(http.StatusUnauthorized, "AUTHENTICATION_REQUIRED").RequestID; got != "my-trace_42" {
		t.Errorf("safe inbound id: got %q, want it echoed", got)
	}
	for _, unsafe := range []string{"has space", strings.Repeat("a", 65), "semi;colon"} {
		res := e.do("GET", "/healthz", nil, "X-Request-Id", unsafe)
		if got := res.header.Get("X-Request-Id"); got == unsafe || !strings.HasPrefix(got, "req_") {
			t.Errorf("unsafe inbound id %q: got %q, want a generated one", unsafe, got)
		}
	}
	if !strings.Contains(e.logs.String(), `"request_id":"my-trace_42"`) {
		t.Errorf("the request id is not in the request log")
	}
}
