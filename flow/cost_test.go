package flow

import (
	"fmt"
	"strings"
	"testing"
)

// hostileDocument is about n bytes of actions of unknown 64-character types, each a different near miss.
func hostileDocument(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"name":"x","actions":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"%s%04d"}`, strings.Repeat("q", 60), i%10000)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// BenchmarkParseUnknownTypes: 1 MiB of unknown action types.
func BenchmarkParseUnknownTypes(b *testing.B) {
	doc := hostileDocument(1 << 20)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		Parse(doc, Limits{MaxActions: 1 << 20})
	}
}

// TestSuggestionsBounded: however many types are misspelt, only the first MaxSuggestions get a did-you-mean (each
// costs a comparison with every known type), and types too long or too short to be close cost none.
func TestSuggestionsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"name":"x","actions":[`)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":"tlak"}`)
	}
	b.WriteString("]}")
	p := newParser([]byte(b.String()), Limits{})
	p.document()
	if p.suggested != MaxSuggestions {
		t.Errorf("%d suggestions computed, want %d", p.suggested, MaxSuggestions)
	}
	p.rep.finish()
	n := 0
	for _, e := range p.rep.Errors {
		if strings.Contains(e.Message, `did you mean "talk"?`) {
			n++
		}
	}
	if n != MaxSuggestions || len(p.rep.Errors) != MaxProblems {
		t.Errorf("%d suggestions among %d errors", n, len(p.rep.Errors))
	}
	if s := suggest(strings.Repeat("q", 64)); s != "" {
		t.Errorf("a 64-character type was close to %q", s)
	}
	if s := suggest("hangpu"); s != "hangup" {
		t.Errorf("hangpu: got %q", s)
	}
}
