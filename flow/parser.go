package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// The parser: its state while it reads a document, and the readers of the values that every kind of document
// holds (the root object, texts, references to flows and to actions). What a flow is made of is read in
// parse.go, a start document in start.go, and option values are checked in options.go.

type parser struct {
	raw []byte
	lim Limits
	rep *Report
	def *Definition
	// ns is the namespace of the labels of the list being read: the flow's id for its actions, the id of the call
	// action for a nested list. current is the id of the action whose options are being read.
	ns, current uuid.UUID
	// suggested counts the did-you-mean suggestions computed, at most MaxSuggestions.
	suggested int
}

// MaxSuggestions bounds the did-you-mean suggestions of one document.
const MaxSuggestions = 20

func newParser(raw []byte, lim Limits) *parser {
	return &parser{raw: raw, lim: lim, rep: &Report{}, def: &Definition{ID: lim.Namespace}, ns: lim.Namespace}
}

// root reads the document, reporting why it is not a JSON object when it is not.
func (p *parser) root() *node {
	if len(bytes.TrimSpace(p.raw)) == 0 {
		p.rep.errorf(0, "", ReasonInvalidJSON, "the request body is empty; send a JSON object")
		return nil
	}
	root, rd, err := parseJSON(p.raw)
	if err != nil {
		var se *syntaxError
		if !errors.As(err, &se) {
			se = &syntaxError{msg: err.Error()}
		}
		p.rep.errorf(se.offset, "", ReasonInvalidJSON, "%s", se.Error())
		return nil
	}
	for _, f := range rd.flaws {
		p.rep.addError(f)
	}
	if root.kind != kindObject {
		p.rep.errorf(root.start, "", ReasonInvalidBody, "the body must be a JSON object, not %s", root.kind)
		return nil
	}
	return root
}

// text reads an optional string field of at most max characters.
func (p *parser) text(n *node, ptr string, max int) string {
	switch n.kind {
	case kindNull:
		return ""
	case kindString:
		if c := utf8.RuneCountInString(n.text); c > max {
			p.rep.errorf(n.start, ptr, ReasonInvalidField, "%s is %d characters long; at most %d are allowed",
				fieldName(ptr), c, max)
		}
		return n.text
	default:
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "%s must be a string, not %s", fieldName(ptr), n.kind)
		return ""
	}
}

// flowRef reads a reference to another flow: a UUID, or ""/null/the nil UUID for none. Valid references are
// remembered, to be checked against the store.
func (p *parser) flowRef(n *node, ptr, reason string) uuid.UUID {
	switch n.kind {
	case kindNull:
		return uuid.Nil
	case kindString:
		if n.text == "" {
			return uuid.Nil
		}
		if id, ok := ParseID(n.text); ok {
			if id != uuid.Nil {
				p.def.flowRefs = append(p.def.flowRefs, flowRef{id: id, pointer: ptr, offset: n.start})
			}
			return id
		}
	}
	p.rep.errorf(n.start, ptr, reason, "%s must be a flow id (a UUID), not %s", fieldName(ptr), describe(n))
	return uuid.Nil
}

// list is one action list being decoded: a flow's, or the nested list of a call action.
type list struct {
	ptr     string
	actions []Action
	ok      []bool // the action at this index decoded well enough to be checked
	starts  []int  // byte offset of each action
	ids     map[uuid.UUID]int
	labels  map[string]uuid.UUID
}

// resolve turns a reference (a UUID, a label, or "" for none) into the id of an action of the list.
func (l *list) resolve(s string) (uuid.UUID, bool) {
	if s == "" {
		return uuid.Nil, true
	}
	if id, isID := ParseID(s); isID {
		if id == uuid.Nil {
			return uuid.Nil, true
		}
		_, ok := l.ids[id]
		return id, ok
	}
	id, ok := l.labels[s]
	return id, ok
}

func (l *list) actionStart(i int) int { return l.starts[i] }

// actionName reads an action's optional name, trimmed. Without one, a label sent as the id is the name, so
// that the word a person chose survives the label's rewrite to a UUID.
func (p *parser) actionName(ra *rawAction, ptr string) string {
	if ra.name != nil && ra.name.kind != kindNull {
		name := strings.TrimSpace(p.text(ra.name, ptr, math.MaxInt))
		if c := utf8.RuneCountInString(name); c > MaxActionNameLength {
			p.rep.errorf(ra.name.start, ptr, ReasonInvalidField, "name is %d characters long; at most %d are allowed",
				c, MaxActionNameLength)
		}
		if name != "" {
			return name
		}
	}
	if n := ra.id; n != nil && n.kind == kindString && n.text != "" {
		if _, isID := ParseID(n.text); !isID {
			if label := strings.TrimSpace(n.text); utf8.RuneCountInString(label) <= MaxActionNameLength {
				return label
			}
		}
	}
	return ""
}

// labelID is the id of the action labelled label in the list being read.
func (p *parser) labelID(label string) uuid.UUID {
	if p.ns == uuid.Nil {
		return uuid.New()
	}
	return LabelID(p.ns, label)
}

// LabelID is the id that an action labelled label gets in the flow (or call action) namespace: a UUIDv5, so the
// same label names the same action in every revision.
func LabelID(namespace uuid.UUID, label string) uuid.UUID {
	return uuid.NewSHA1(namespace, []byte(label))
}

// actionRef reads a reference to an action of the list. When the reference is a label or a UUID written in
// another case, a rewrite to the canonical UUID is appended to repl (when repl is not nil).
func (p *parser) actionRef(l *list, n *node, ptr string, repl *[]replacement) uuid.UUID {
	switch n.kind {
	case kindNull:
		return uuid.Nil
	case kindString:
	default:
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "%s must be an action id or label (a string), not %s",
			fieldName(ptr), n.kind)
		return uuid.Nil
	}
	id, ok := l.resolve(n.text)
	if !ok {
		if isUUID(n.text) {
			p.rep.errorf(n.start, ptr, ReasonInvalidActionTarget, "no action in this list has the id %s", n.text)
		} else {
			p.rep.errorf(n.start, ptr, ReasonInvalidActionTarget, "no action in this list has the label %q", n.text)
		}
		return uuid.Nil
	}
	if repl != nil && n.text != "" && id != uuid.Nil && n.text != id.String() {
		*repl = append(*repl, replacement{start: n.start, end: n.end, text: strconv.Quote(id.String())})
	}
	return id
}

// replacement rewrites the bytes [start, end) of the document.
type replacement struct {
	start, end int
	text       string
}

// render returns the bytes of n with the replacements applied, compacted.
func (p *parser) render(n *node, repl []replacement) json.RawMessage {
	src := p.raw[n.start:n.end]
	if len(repl) > 0 {
		sort.Slice(repl, func(a, b int) bool { return repl[a].start < repl[b].start })
		var b bytes.Buffer
		at := n.start
		for _, r := range repl {
			b.Write(p.raw[at:r.start])
			b.WriteString(r.text)
			at = r.end
		}
		b.Write(p.raw[at:n.end])
		src = b.Bytes()
	}
	var out bytes.Buffer
	if err := json.Compact(&out, src); err != nil {
		// Unreachable: src is a value our reader accepted, with JSON strings spliced in.
		return json.RawMessage(bytes.Clone(src))
	}
	return out.Bytes()
}

// unknownField reports a field that the document's kind does not have, as the mode says. what names the place
// ("", "action ") and known lists the fields it has, for the message.
func (p *parser) unknownField(offset int, ptr, key, what, known string) {
	switch p.lim.Fields {
	case FieldsStrict:
		p.rep.errorf(offset, ptr, ReasonUnknownField, "unknown %sfield %q; %s", what, key, known)
	case FieldsWarn:
		p.rep.warnf(offset, ptr, ReasonUnknownField, "unknown %sfield %q was dropped; %s", what, key, known)
	}
}

// checkFlowRefs asks live whether the flows the document refers to exist, and reports those that do not.
func (p *parser) checkFlowRefs(ctx context.Context, live LiveFlows) error {
	if len(p.def.flowRefs) == 0 || live == nil {
		return nil
	}
	found, err := live(ctx, p.def.FlowIDs())
	if err != nil {
		return fmt.Errorf("flow: check flow references: %w", err)
	}
	for _, r := range p.def.flowRefs {
		if !found[r.id] {
			p.rep.errorf(r.offset, r.pointer, ReasonInvalidFlowReference, "flow %s does not exist (or was deleted)", r.id)
		}
	}
	return nil
}

// LiveFlows reports which of the given ids name live (not deleted) flows of the caller.
type LiveFlows func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error)

// fieldName is the last token of a pointer, for messages.
func fieldName(ptr string) string {
	for i := len(ptr) - 1; i >= 0; i-- {
		if ptr[i] == '/' {
			return ptr[i+1:]
		}
	}
	return ptr
}

func describe(n *node) string {
	if n.kind == kindString {
		return strconv.Quote(n.text)
	}
	return n.kind.String()
}
