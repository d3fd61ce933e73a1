package tracing

import (
	"context"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowbin/flowbin/auth"
)

// redactingExporter passes every span through the redaction of the access log before it leaves the process:
// names, attributes (of the span, its events and links) and the status are masked for anything that looks like a
// token or an access key, also percent-encoded (auth.Redact); queries are written as the access log writes them
// (auth.RedactQuery); credential headers are masked whole. Instrumentation libraries choose their attributes, and
// a later version may record more (the query, headers): the exporter is where every one of them passes.
type redactingExporter struct{ next sdktrace.SpanExporter }

func (e redactingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		out[i] = redactSpan(s)
	}
	return e.next.ExportSpans(ctx, out)
}

func (e redactingExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

// redactedSpan is a span with its text masked; the rest (ids, times, kind, resource) is the span's own.
type redactedSpan struct {
	sdktrace.ReadOnlySpan
	name   string
	attrs  []attribute.KeyValue
	events []sdktrace.Event
	links  []sdktrace.Link
	status sdktrace.Status
}

func (s redactedSpan) Name() string                     { return s.name }
func (s redactedSpan) Attributes() []attribute.KeyValue { return s.attrs }
func (s redactedSpan) Events() []sdktrace.Event         { return s.events }
func (s redactedSpan) Links() []sdktrace.Link           { return s.links }
func (s redactedSpan) Status() sdktrace.Status          { return s.status }

func redactSpan(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	r := redactedSpan{ReadOnlySpan: s, name: auth.Redact(s.Name()), attrs: redactAttrs(s.Attributes()), status: s.Status()}
	r.status.Description = auth.Redact(r.status.Description)
	for _, ev := range s.Events() {
		ev.Name = auth.Redact(ev.Name)
		ev.Attributes = redactAttrs(ev.Attributes)
		r.events = append(r.events, ev)
	}
	for _, l := range s.Links() {
		l.Attributes = redactAttrs(l.Attributes)
		r.links = append(r.links, l)
	}
	return r
}

func redactAttrs(attrs []attribute.KeyValue) []attribute.KeyValue {
	if len(attrs) == 0 {
		return attrs
	}
	out := make([]attribute.KeyValue, len(attrs))
	for i, a := range attrs {
		out[i] = redactAttr(a)
	}
	return out
}

// secretHeaders are header names (as OpenTelemetry writes them into attribute keys: lower case) whose values are
// credentials whatever they look like.
var secretHeaders = []string{"authorization", "cookie"}

func redactAttr(a attribute.KeyValue) attribute.KeyValue {
	key := strings.ToLower(string(a.Key))
	for _, h := range secretHeaders {
		if strings.Contains(key, h) {
			return attribute.String(string(a.Key), auth.Redacted)
		}
	}
	switch a.Value.Type() {
	case attribute.STRING:
		v := a.Value.AsString()
		switch key {
		case "url.query", "http.query":
			return attribute.String(string(a.Key), auth.RedactQuery(v))
		case "url.full", "http.url", "http.target", "url.original":
			return attribute.String(string(a.Key), redactURL(v))
		}
		return attribute.String(string(a.Key), auth.Redact(v))
	case attribute.STRINGSLICE:
		vs := a.Value.AsStringSlice()
		for i, v := range vs {
			vs[i] = auth.Redact(v)
		}
		return attribute.StringSlice(string(a.Key), vs)
	}
	return a
}

// redactURL is a URL (or a request target) with its path masked, its query written as the access log writes it,
// and no password.
func redactURL(raw string) string {
	path, query, hasQuery := strings.Cut(raw, "?")
	if u, err := url.Parse(path); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), auth.Redacted)
			path = u.String()
		}
	}
	path = auth.Redact(path)
	if !hasQuery {
		return path
	}
	return path + "?" + auth.RedactQuery(query)
}
