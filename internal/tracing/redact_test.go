package tracing

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestExporterRedacts: whatever an instrumentation records (the query, the full URL, headers, error events, the
// status), the exporter masks credentials the way the access log does: by name in queries, by shape anywhere,
// whole in credential headers.
func TestExporterRedacts(t *testing.T) {
	const (
		jwt    = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
		key    = "fbk_3kTMd9xQ2vLp8RzN"
		opaque = "opaque-secret-4711"
	)
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(redactingExporter{mem}))
	_, span := tp.Tracer("test").Start(context.Background(), "GET /v1.0/flows/"+key)
	span.SetAttributes(
		attribute.String("url.path", "/v1.0/flows/%66bk_3kTMd9xQ2vLp8RzN"),
		attribute.String("url.query", "token="+opaque+"&%61ccesskey="+opaque+"&x="+jwt),
		attribute.String("url.full", "https://u:"+opaque+"@h/v1.0/flows?TOKEN="+opaque),
		attribute.StringSlice("http.request.header.authorization", []string{"Bearer " + opaque}),
		attribute.StringSlice("http.request.header.x-other", []string{key}),
		attribute.String("http.request.header.cookie", "s="+opaque),
	)
	span.AddEvent("exception", trace.WithAttributes(attribute.String("exception.message", "bad "+jwt)))
	span.SetStatus(codes.Error, "no flow "+key)
	span.End()
	spans := mem.GetSpans() // the syncer exported it at End
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	var all strings.Builder
	sp := spans[0]
	all.WriteString(sp.Name + "\n" + sp.Status.Description + "\n")
	for _, a := range sp.Attributes {
		all.WriteString(string(a.Key) + "=" + a.Value.String() + "\n")
	}
	for _, ev := range sp.Events {
		for _, a := range ev.Attributes {
			all.WriteString(string(a.Key) + "=" + a.Value.String() + "\n")
		}
	}
	for _, secret := range []string{jwt, "c2lnbmF0dXJl", key, "3kTMd9xQ2vLp8RzN", opaque} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("the exported span holds %q:\n%s", secret, all.String())
		}
	}
	for _, want := range []string{"url.query=token=REDACTED&accesskey=REDACTED&x=REDACTED", "TOKEN=REDACTED",
		"u:REDACTED@h", "http.request.header.authorization=REDACTED", "no flow REDACTED"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("the exported span lacks %q:\n%s", want, all.String())
		}
	}
}
