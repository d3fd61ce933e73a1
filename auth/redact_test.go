package auth

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestRedact: what looks like a token or key is masked, in clear or percent-encoded; the rest stays.
func TestRedact(t *testing.T) {
	tokens, _ := NewTokens(secret, time.Hour)
	tok, _ := tokens.Issue(uuid.New(), uuid.New(), "alice", 0)
	key, _, _, _ := NewAccessKey()
	encodeAll := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[s[i]>>4])+string("0123456789abcdef"[s[i]&15])))
		}
		return b.String()
	}
	for _, in := range []string{tok, key, "path /v1.0/flows/" + tok + "?x=1", key[:10], url.QueryEscape(tok), encodeAll(key),
		url.QueryEscape(url.QueryEscape(encodeAll(tok))), "Bearer " + tok + ", and " + key} {
		out := Redact(in)
		if strings.Contains(out, tok[len(tok)-20:]) || strings.Contains(out, key[8:20]) || !strings.Contains(out, Redacted) {
			t.Errorf("Redact(%.30s…) = %q", in, out)
		}
	}
	for _, keep := range []string{"", "page_size=5", "a%zz", "eyes", "fbkx_1", "100%"} {
		if got := Redact(keep); got != keep {
			t.Errorf("Redact(%q) = %q", keep, got)
		}
	}
}

// TestRedactingHandler: every attribute of every record, however it is given, is masked.
func TestRedactingHandler(t *testing.T) {
	key, _, _, _ := NewAccessKey()
	var buf bytes.Buffer
	log := slog.New(NewRedactingHandler(slog.NewJSONHandler(&buf, nil))).With("with", key)
	log.Warn("message "+key, "string", key, "err", errors.New("failed for "+key), "bytes", []byte(key),
		slog.Group("group", "inner", key), "any", struct{ K string }{key}, "n", 42)
	log.WithGroup("g").Info("x", "k", url.QueryEscape(key))
	if strings.Contains(buf.String(), key[4:]) || strings.Count(buf.String(), Redacted) != 9 || !strings.Contains(buf.String(), `"n":42`) {
		t.Errorf("got %s", buf.String())
	}
	if h := NewRedactingHandler(NewRedactingHandler(slog.DiscardHandler)); h.next != slog.DiscardHandler {
		t.Errorf("a redacting handler was wrapped twice")
	}
}
