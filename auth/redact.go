package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces a credential wherever flowbin writes text that people read (logs).
const Redacted = "REDACTED"

// credentialLike matches what looks like a flowbin credential whatever surrounds it: an access key ("fbk_" and
// base62 characters, also truncated) and a JWT (three base64url parts, the first starting with "eyJ", the
// encoding of `{"`). A token split by an encoding the pattern does not see through (percent-encoding, say) is
// decoded before it is logged: see server's access log.
var credentialLike = regexp.MustCompile(`fbk_[0-9A-Za-z]*|eyJ[0-9A-Za-z_-]*(\.[0-9A-Za-z_-]*){0,2}`)

// Redact masks every part of s that looks like a flowbin token or access key, also when it is percent-encoded
// (up to three times over): text holding an encoded credential is logged decoded, with the credential masked.
func Redact(s string) string {
	s = mask(s)
	d := s
	for range 3 {
		if strings.IndexByte(d, '%') < 0 {
			break
		}
		next, err := url.PathUnescape(d)
		if err != nil || next == d {
			break
		}
		if m := mask(next); m != next {
			return m
		}
		d = next
	}
	return s
}

func mask(s string) string {
	// The common case, nothing to mask, costs two substring searches.
	if !strings.Contains(s, "fbk_") && !strings.Contains(s, "eyJ") {
		return s
	}
	return credentialLike.ReplaceAllString(s, Redacted)
}

// credentialParams are query parameters whose values never reach a log: every name that authentication reads
// (credential), compared as authentication compares them, after decoding.
var credentialParams = map[string]bool{"token": true, "accesskey": true}

// RedactQuery is the query as the server reads it: each pair decoded (as url.ParseQuery decodes it, so that
// "%74oken" is "token"), the values of credential parameters and anything that looks like a token or key masked,
// then encoded again in one canonical way. The access log and the exported traces write queries so. Pairs that do not decode, which the server ignores, are logged as
// "(undecodable)".
func RedactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		rawName, rawValue, _ := strings.Cut(p, "=")
		name, err1 := url.QueryUnescape(rawName)
		value, err2 := url.QueryUnescape(rawValue)
		switch {
		case err1 != nil || err2 != nil || strings.Contains(p, ";"):
			parts[i] = "(undecodable)"
		case credentialParams[strings.ToLower(name)]:
			parts[i] = url.QueryEscape(Redact(name)) + "=" + Redacted
		default:
			parts[i] = url.QueryEscape(Redact(name)) + "=" + url.QueryEscape(Redact(value))
		}
	}
	return strings.Join(parts, "&")
}

// RedactingHandler is a slog.Handler that masks credentials (Redact) in the message and in every attribute
// value of every record, whatever logged it: the access log, error logs, the database layer, the HTTP server's
// own complaints. It is the last line of defence; code still logs no credential on purpose.
type RedactingHandler struct{ next slog.Handler }

// NewRedactingHandler wraps next.
func NewRedactingHandler(next slog.Handler) *RedactingHandler {
	if r, ok := next.(*RedactingHandler); ok {
		return r
	}
	return &RedactingHandler{next: next}
}

// Enabled implements slog.Handler.
func (h *RedactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *RedactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *RedactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return &RedactingHandler{next: h.next.WithAttrs(red)}
}

// WithGroup implements slog.Handler.
func (h *RedactingHandler) WithGroup(name string) slog.Handler {
	return &RedactingHandler{next: h.next.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		red := make([]slog.Attr, len(group))
		for i, g := range group {
			red[i] = redactAttr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, Redact(x.String()))
		case []byte:
			return slog.String(a.Key, Redact(string(x)))
		case string:
			return slog.String(a.Key, Redact(x))
		default:
			// Anything else is rendered as the handler would, then masked.
			s := fmt.Sprintf("%+v", x)
			if r := Redact(s); r != s {
				return slog.String(a.Key, r)
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
