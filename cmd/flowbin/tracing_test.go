package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is a local OTLP/HTTP endpoint that keeps the spans it receives.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	names map[string]string // service.name by span id
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.NotFound(w, req)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	b, err := io.ReadAll(body)
	var export collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &export)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range export.ResourceSpans {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, s)
				r.names[string(s.SpanId)] = service
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// TestTracesReachAnOTLPReceiver: with OTEL_EXPORTER_OTLP_ENDPOINT set, a request gives a server span that
// continues the caller's trace (traceparent), named by its route, and SQL spans under it.
func TestTracesReachAnOTLPReceiver(t *testing.T) {
	rec := &otlpReceiver{names: map[string]string{}}
	otlp := httptest.NewServer(rec)
	defer otlp.Close()
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "traced-password",
		"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL, "OTEL_SERVICE_NAME": "flowbin-test"})
	token := login(t, s.url, "admin", "traced-password")
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	status, body := call(t, "GET", s.url+"/v1.0/flows", "", "Authorization", "Bearer "+token,
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if status != http.StatusOK {
		t.Fatalf("list: %d %s", status, body)
	}
	s.shutdown(t) // flushes the spans

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var server *tracepb.Span
	for _, sp := range rec.spans {
		if sp.Name == "GET /v1.0/flows" && sp.Kind == tracepb.Span_SPAN_KIND_SERVER {
			server = sp
		}
	}
	if server == nil {
		t.Fatalf("no server span GET /v1.0/flows among %d spans: %v", len(rec.spans), spanNames(rec.spans))
	}
	if got := hexID(server.TraceId); got != traceID {
		t.Errorf("the server span is in trace %s, want the caller's %s", got, traceID)
	}
	if rec.names[string(server.SpanId)] != "flowbin-test" {
		t.Errorf("service.name %q, want flowbin-test", rec.names[string(server.SpanId)])
	}
	var sql *tracepb.Span
	for _, sp := range rec.spans {
		if string(sp.ParentSpanId) == string(server.SpanId) && strings.HasPrefix(sp.Name, "sql ") {
			sql = sp
		}
	}
	if sql == nil {
		t.Fatalf("no SQL span under the request's: %v", spanNames(rec.spans))
	}
	attrs := map[string]string{}
	for _, a := range sql.Attributes {
		attrs[a.Key] = a.GetValue().GetStringValue()
	}
	if attrs["db.system.name"] != "sqlite" || !strings.Contains(attrs["db.query.text"], "flows") {
		t.Errorf("SQL span %s: attributes %v", sql.Name, attrs)
	}
	if strings.Contains(attrs["db.query.text"], token) {
		t.Errorf("a credential reached a span")
	}
}

// TestTracesHoldNoCredentials: spans pass through the access log's redaction before they leave. Credentials in
// every form a client may send them (in the path, raw and percent-encoded; in the query under their names, encoded
// names and other names; in the Authorization header) appear nowhere in what the OTLP receiver gets, read as
// sent and percent-decoded.
func TestTracesHoldNoCredentials(t *testing.T) {
	rec := &otlpReceiver{names: map[string]string{}}
	otlp := httptest.NewServer(rec)
	defer otlp.Close()
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "traced-password",
		"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL})
	token := login(t, s.url, "admin", "traced-password")
	_, body := call(t, "POST", s.url+"/v1.0/accesskeys", `{"expire":86400}`, "Authorization", "Bearer "+token)
	var key struct{ Token string }
	if err := json.Unmarshal(body, &key); err != nil || !strings.HasPrefix(key.Token, "fbk_") {
		t.Fatalf("no access key: %s", body)
	}
	pct := func(s string) string { // every byte percent-encoded
		var b strings.Builder
		for i := range len(s) {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
		return b.String()
	}
	for _, target := range []string{
		"/v1.0/flows/" + token, "/v1.0/flows/" + key.Token, "/v1.0/flows/" + pct(token), "/v1.0/flows/" + pct(key.Token),
		"/made-up/" + key.Token, "/v1.0/flows?token=" + token, "/v1.0/flows?accesskey=" + key.Token,
		"/v1.0/flows?%74oken=" + token, "/v1.0/flows?%61ccesskey=" + key.Token, "/v1.0/flows?x=" + pct(token),
		"/v1.0/flows?token=" + pct(key.Token), "/v1.0/flows?Token=" + token + "&%zz",
	} {
		if status, _ := call(t, "GET", s.url+target, ""); status == http.StatusInternalServerError {
			t.Fatalf("%s: 500", target)
		}
	}
	call(t, "GET", s.url+"/v1.0/flows", "", "Authorization", "Bearer "+token)
	call(t, "GET", s.url+"/v1.0/flows", "", "Authorization", "Bearer "+key.Token)
	s.shutdown(t) // flushes the spans

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.spans) < 16 {
		t.Fatalf("only %d spans: %v", len(rec.spans), spanNames(rec.spans))
	}
	var text strings.Builder
	for _, sp := range rec.spans {
		b, err := protojson.Marshal(sp)
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
		text.WriteByte('\n')
	}
	decoded := text.String()
	for range 3 {
		if d, err := url.QueryUnescape(decoded); err == nil {
			decoded = d
		}
	}
	secrets := []string{token, token[strings.LastIndexByte(token, '.')+1:], key.Token, strings.TrimPrefix(key.Token, "fbk_"),
		"traced-password"}
	for _, in := range []string{text.String(), decoded} {
		for _, cred := range secrets {
			if strings.Contains(in, cred) {
				t.Errorf("a span holds a credential (%.12s…)", cred)
			}
		}
	}
	if !strings.Contains(text.String(), "REDACTED") {
		t.Errorf("no span shows a masked credential: the test does not reach the spans that held them")
	}
}

func spanNames(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestTracingOffByDefault: without OTEL_* variables no exporter is set up, and bad ones are refused at start.
func TestTracingOffByDefault(t *testing.T) {
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir()})
	s.shutdown(t)
	if strings.Contains(s.stderr.String(), "exporting traces") {
		t.Errorf("tracing is on without OTEL_* variables:\n%s", s.stderr.String())
	}
	for _, env := range []map[string]string{
		{"OTEL_TRACES_EXPORTER": "zipkin"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
	} {
		env["FLOWBIN_DATA_DIR"] = t.TempDir()
		env["FLOWBIN_ADDR"] = "127.0.0.1:0"
		if _, _, err := runProgram(t, env, ""); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("%v: got %v, want a refusal", env, err)
		}
	}
}

// TestMetricsListener: FLOWBIN_METRICS_ADDR serves /metrics on a listener of its own; the API's has none.
func TestMetricsListener(t *testing.T) {
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_METRICS_ADDR": "127.0.0.1:0"})
	m := regexp.MustCompile(`msg="serving metrics" addr=(\S+)`).FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no metrics listener in the log:\n%s", s.stderr.String())
	}
	call(t, "GET", s.url+"/healthz", "")
	status, body := call(t, "GET", "http://"+m[1]+"/metrics", "")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	for _, want := range []string{
		`flowbin_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1`,
		"# TYPE flowbin_db_connections_open gauge", "# TYPE flowbin_activeflows_started_total counter",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if status, _ := call(t, "GET", s.url+"/metrics", ""); status != http.StatusNotFound {
		t.Errorf("the API listener answers /metrics with %d, want 404", status)
	}
}
