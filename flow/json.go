package flow

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is a small JSON reader that keeps what encoding/json throws away: the byte offset of every value, the
// order of object members, and duplicate keys. Validation needs all three to report every problem with its JSON
// Pointer in document order, and to store options verbatim while rewriting only the labels inside them.
// String unescaping is delegated to encoding/json.

// maxDepth bounds nesting so that hostile documents cannot exhaust the stack.
const maxDepth = 64

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "a number"
	case kindString:
		return "a string"
	case kindArray:
		return "an array"
	default:
		return "an object"
	}
}

// node is one JSON value and where it sits in the document.
type node struct {
	kind       kind
	start, end int    // byte offsets of the value, end exclusive
	text       string // decoded string, number literal, or "true"/"false"
	members    []member
	items      []*node
}

type member struct {
	key      string
	keyStart int
	value    *node
}

// get returns the value of the object member named key, or nil.
func (n *node) get(key string) *node {
	for i := range n.members {
		if n.members[i].key == key {
			return n.members[i].value
		}
	}
	return nil
}

// syntaxError is a document that is not JSON, with the byte offset where reading stopped.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.offset, e.msg)
}

type reader struct {
	data  []byte
	pos   int
	depth int
	path  []string // reference tokens of the value being read
	// flaws are well-formed JSON that flowbin still refuses: duplicated object keys (ambiguous: readers disagree
	// on which value wins) and strings containing U+0000 (PostgreSQL text and jsonb cannot store it).
	flaws []Problem
}

func (r *reader) pointer(extra ...string) string {
	return joinPointer(joinPointer("", r.path...), extra...)
}

// parseJSON reads one JSON document. Trailing non-space bytes are an error.
func parseJSON(data []byte) (*node, *reader, error) {
	if !utf8.Valid(data) {
		return nil, nil, &syntaxError{offset: invalidUTF8Offset(data), msg: "the body is not valid UTF-8"}
	}
	r := &reader{data: data}
	r.skipSpace()
	n, err := r.value()
	if err != nil {
		return nil, nil, err
	}
	r.skipSpace()
	if r.pos != len(r.data) {
		return nil, nil, &syntaxError{offset: r.pos, msg: "unexpected data after the top-level value"}
	}
	return n, r, nil
}

// CheckText reports the first thing in a JSON text that flowbin refuses whatever the text's schema, or nil: bytes
// that are not UTF-8 (ReasonInvalidJSON), and the escape \u0000 (ReasonInvalidString), since PostgreSQL's text
// and jsonb cannot store NUL. The server runs it on every JSON request body before anything decodes it; this
// package's reader makes the same UTF-8 check and reports a NUL with the pointer of the string that holds it, for
// documents that reach it another way.
func CheckText(data []byte) *Problem {
	if !utf8.Valid(data) {
		at := invalidUTF8Offset(data)
		return &Problem{Reason: ReasonInvalidJSON, offset: at,
			Message: fmt.Sprintf("the request body is not valid UTF-8 (at byte %d)", at)}
	}
	if at := nulEscape(data); at >= 0 {
		return &Problem{Reason: ReasonInvalidString, offset: at,
			Message: "strings must not contain the NUL character (\\u0000)"}
	}
	return nil
}

// nulEscape is the offset of the first escape \u0000 in a JSON text, or -1 (raw NUL bytes are not valid JSON).
func nulEscape(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+6]) == "0000" {
			return i
		}
		i++ // skip the escaped character
	}
	return -1
}

func invalidUTF8Offset(data []byte) int {
	for i := 0; i < len(data); {
		c, size := utf8.DecodeRune(data[i:])
		if c == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}

func (r *reader) fail(msg string) error { return &syntaxError{offset: r.pos, msg: msg} }

func (r *reader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *reader) value() (*node, error) {
	if r.pos >= len(r.data) {
		return nil, r.fail("unexpected end of input")
	}
	switch c := r.data[r.pos]; {
	case c == '{':
		return r.object()
	case c == '[':
		return r.array()
	case c == '"':
		return r.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	case c == 't':
		return r.literal("true", kindBool)
	case c == 'f':
		return r.literal("false", kindBool)
	case c == 'n':
		return r.literal("null", kindNull)
	default:
		return nil, r.fail(fmt.Sprintf("unexpected character %q", c))
	}
}

func (r *reader) literal(word string, k kind) (*node, error) {
	if !strings.HasPrefix(string(r.data[r.pos:min(len(r.data), r.pos+len(word))]), word) {
		return nil, r.fail("invalid literal")
	}
	n := &node{kind: k, start: r.pos, end: r.pos + len(word), text: word}
	r.pos += len(word)
	return n, nil
}

func (r *reader) number() (*node, error) {
	start := r.pos
	if r.data[r.pos] == '-' {
		r.pos++
	}
	digits := func() int {
		s := r.pos
		for r.pos < len(r.data) && r.data[r.pos] >= '0' && r.data[r.pos] <= '9' {
			r.pos++
		}
		return r.pos - s
	}
	if r.pos < len(r.data) && r.data[r.pos] == '0' {
		r.pos++
	} else if digits() == 0 {
		return nil, r.fail("invalid number")
	}
	if r.pos < len(r.data) && r.data[r.pos] == '.' {
		r.pos++
		if digits() == 0 {
			return nil, r.fail("invalid number")
		}
	}
	if r.pos < len(r.data) && (r.data[r.pos] == 'e' || r.data[r.pos] == 'E') {
		r.pos++
		if r.pos < len(r.data) && (r.data[r.pos] == '+' || r.data[r.pos] == '-') {
			r.pos++
		}
		if digits() == 0 {
			return nil, r.fail("invalid number")
		}
	}
	n := &node{kind: kindNumber, start: start, end: r.pos, text: string(r.data[start:r.pos])}
	if msg := numberProblem(n.text); msg != "" {
		r.flaws = append(r.flaws, Problem{Pointer: r.pointer(), Reason: ReasonInvalidNumber, Message: msg, offset: start})
	}
	return n, nil
}

// MaxNumberLength bounds the characters of a number literal.
const MaxNumberLength = 100

// numberProblem says what is wrong with a well-formed number literal that flowbin refuses, or "". Numbers are
// stored (PostgreSQL's numeric inside jsonb holds at most 131,072 digits before the point and 16,383 after, so
// 1e999999 and 1e-999999 do not fit), read back by clients that mostly hold numbers as IEEE 754 doubles, and
// compared by the engine as doubles: a number must be a finite double, not one so small that it reads as zero,
// in at most MaxNumberLength characters.
func numberProblem(lit string) string {
	if len(lit) > MaxNumberLength {
		return fmt.Sprintf("numbers must be at most %d characters long; this one has %d", MaxNumberLength, len(lit))
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return fmt.Sprintf("the number %s is out of range: numbers must be within ±1.7976931348623157e308", lit)
	}
	if f == 0 && significand(lit) {
		return fmt.Sprintf("the number %s is too small: non-zero numbers must be at least 4.9e-324 in magnitude", lit)
	}
	return ""
}

// significand reports whether the digits before the exponent of a number literal are not all zero.
func significand(lit string) bool {
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		lit = lit[:i]
	}
	return strings.ContainsAny(lit, "123456789")
}

func (r *reader) string() (*node, error) {
	start := r.pos
	r.pos++ // opening quote
	escaped := false
	for {
		if r.pos >= len(r.data) {
			return nil, &syntaxError{offset: start, msg: "unterminated string"}
		}
		c := r.data[r.pos]
		switch {
		case c == '"':
			r.pos++
			n := &node{kind: kindString, start: start, end: r.pos}
			raw := r.data[start:r.pos]
			if !escaped {
				n.text = string(raw[1 : len(raw)-1])
				return n, nil
			}
			if err := json.Unmarshal(raw, &n.text); err != nil {
				return nil, &syntaxError{offset: start, msg: "invalid string escape"}
			}
			if !surrogatesPaired(raw) {
				r.flaws = append(r.flaws, Problem{Pointer: r.pointer(), Reason: ReasonInvalidString,
					Message: "strings must not contain unpaired UTF-16 surrogate escapes (\\ud800-\\udfff)", offset: start})
			}
			if strings.IndexByte(n.text, 0) >= 0 {
				r.flaws = append(r.flaws, Problem{Pointer: r.pointer(), Reason: ReasonInvalidString,
					Message: "strings must not contain the NUL character (\\u0000)", offset: start})
			}
			return n, nil
		case c == '\\':
			escaped = true
			r.pos += 2
		case c < 0x20:
			return nil, r.fail("control character in string")
		default:
			r.pos++
		}
	}
}

// surrogatesPaired reports whether every \uD800-\uDFFF escape in a JSON string token is part of a valid pair.
// encoding/json silently replaces unpaired ones, but PostgreSQL's jsonb refuses them.
func surrogatesPaired(raw []byte) bool {
	hex := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		return rune(v), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		c, ok := hex(i)
		if !ok {
			i++ // skip the escaped character
			continue
		}
		switch {
		case c >= 0xD800 && c <= 0xDBFF:
			lo, ok := hex(i + 6)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 11
		case c >= 0xDC00 && c <= 0xDFFF:
			return false
		default:
			i += 5
		}
	}
	return true
}

func (r *reader) array() (*node, error) {
	if r.depth++; r.depth > maxDepth {
		return nil, r.fail("nesting deeper than " + strconv.Itoa(maxDepth) + " levels")
	}
	defer func() { r.depth-- }()
	n := &node{kind: kindArray, start: r.pos}
	r.pos++
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == ']' {
		r.pos++
		n.end = r.pos
		return n, nil
	}
	for {
		r.skipSpace()
		r.path = append(r.path, strconv.Itoa(len(n.items)))
		v, err := r.value()
		r.path = r.path[:len(r.path)-1]
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		r.skipSpace()
		if r.pos >= len(r.data) {
			return nil, r.fail("unexpected end of input in array")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case ']':
			r.pos++
			n.end = r.pos
			return n, nil
		default:
			return nil, r.fail("expected ',' or ']' in array")
		}
	}
}

func (r *reader) object() (*node, error) {
	if r.depth++; r.depth > maxDepth {
		return nil, r.fail("nesting deeper than " + strconv.Itoa(maxDepth) + " levels")
	}
	defer func() { r.depth-- }()
	n := &node{kind: kindObject, start: r.pos}
	r.pos++
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == '}' {
		r.pos++
		n.end = r.pos
		return n, nil
	}
	var seen map[string]bool
	for {
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != '"' {
			return nil, r.fail("expected a string key in object")
		}
		k, err := r.string()
		if err != nil {
			return nil, err
		}
		r.path = append(r.path, k.text)
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return nil, r.fail("expected ':' after object key")
		}
		r.pos++
		r.skipSpace()
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		if seen == nil {
			seen = make(map[string]bool, 8)
		}
		if seen[k.text] {
			r.flaws = append(r.flaws, Problem{Pointer: r.pointer(), Reason: ReasonDuplicateKey,
				Message: fmt.Sprintf("key %q appears more than once in this object", k.text), offset: k.start})
		}
		r.path = r.path[:len(r.path)-1]
		seen[k.text] = true
		n.members = append(n.members, member{key: k.text, keyStart: k.start, value: v})
		r.skipSpace()
		if r.pos >= len(r.data) {
			return nil, r.fail("unexpected end of input in object")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case '}':
			r.pos++
			n.end = r.pos
			return n, nil
		default:
			return nil, r.fail("expected ',' or '}' in object")
		}
	}
}

// pointerEscape escapes one reference token of an RFC 6901 JSON Pointer.
func pointerEscape(token string) string {
	if !strings.ContainsAny(token, "~/") {
		return token
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(token)
}

// joinPointer appends reference tokens to a JSON Pointer.
func joinPointer(base string, tokens ...string) string {
	var b strings.Builder
	b.WriteString(base)
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(pointerEscape(t))
	}
	return b.String()
}
