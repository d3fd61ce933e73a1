package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// LiveFlows reports which of the given ids name live (not deleted) flows of the caller.
type LiveFlows func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error)

// Parse decodes and validates a flow definition without looking anything up: references to other flows are not
// checked. The definition is returned even when the report has errors; it must not be stored then.
func Parse(raw []byte, lim Limits) (*Definition, *Report) {
	p := newParser(raw, lim)
	p.document()
	p.rep.finish()
	return p.def, p.rep
}

// Validate is Parse, and checks with live that every flow the definition refers to exists. An error is returned
// only when live fails.
func Validate(ctx context.Context, raw []byte, lim Limits, live LiveFlows) (*Definition, *Report, error) {
	p := newParser(raw, lim)
	p.document()
	if err := p.checkFlowRefs(ctx, live); err != nil {
		return nil, nil, err
	}
	p.rep.finish()
	return p.def, p.rep, nil
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

func (p *parser) document() {
	root := p.root()
	if root == nil {
		return
	}
	for _, m := range root.members {
		ptr := joinPointer("", m.key)
		switch m.key {
		case "name":
			p.def.Name = p.text(m.value, ptr, MaxNameLength)
		case "detail":
			p.def.Detail = p.text(m.value, ptr, MaxDetailLength)
		case "actions":
			p.def.Actions = p.actions(m.value, ptr)
		case "on_complete_flow_id":
			p.def.OnCompleteFlowID = p.flowRef(m.value, ptr, ReasonInvalidField)
		default:
			if !voipbinFlowFields[m.key] {
				p.unknownField(m.keyStart, ptr, m.key, "", "a flow has name, detail, actions and on_complete_flow_id")
			}
		}
	}
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

type rawAction struct {
	node                       *node
	id, name, next, typ, optns *node
}

func (p *parser) actions(n *node, ptr string) []Action {
	switch n.kind {
	case kindNull:
		return nil
	case kindArray:
	default:
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "%s must be an array, not %s", fieldName(ptr), n.kind)
		return nil
	}
	if max := p.lim.maxActions(); len(n.items) > max {
		p.rep.errorf(n.start, ptr, ReasonTooManyActions, "an action list holds at most %d actions; this one has %d",
			max, len(n.items))
		return nil
	}
	l := &list{
		ptr:     ptr,
		actions: make([]Action, len(n.items)),
		ok:      make([]bool, len(n.items)),
		starts:  make([]int, len(n.items)),
		ids:     make(map[uuid.UUID]int, len(n.items)),
		labels:  make(map[string]uuid.UUID),
	}
	raws := make([]rawAction, len(n.items))

	// First pass: the shape of each action and its id, so that references may point forward.
	for i, item := range n.items {
		aptr := joinPointer(ptr, strconv.Itoa(i))
		l.starts[i] = item.start
		if item.kind != kindObject {
			p.rep.errorf(item.start, aptr, ReasonInvalidAction, "an action must be a JSON object, not %s", item.kind)
			continue
		}
		ra := &raws[i]
		ra.node = item
		for _, m := range item.members {
			switch m.key {
			case "id":
				ra.id = m.value
			case "name":
				ra.name = m.value
			case "next_id":
				ra.next = m.value
			case "type":
				ra.typ = m.value
			case "option":
				ra.optns = m.value
			default:
				if !voipbinActionFields[m.key] {
					p.unknownField(m.keyStart, joinPointer(aptr, m.key), m.key, "action ",
						"an action has id, name, next_id, type and option")
				}
			}
		}
		l.ok[i] = true
		l.actions[i].ID = p.actionID(l, i, ra.id, joinPointer(aptr, "id"))
		l.actions[i].Name = p.actionName(ra, joinPointer(aptr, "name"))
	}

	// Second pass: type, next_id and options, with every id known.
	for i := range raws {
		if !l.ok[i] {
			continue
		}
		ra := &raws[i]
		aptr := joinPointer(ptr, strconv.Itoa(i))
		a := &l.actions[i]
		if ra.next != nil {
			a.NextID = p.actionRef(l, ra.next, joinPointer(aptr, "next_id"), nil)
		}
		spec := p.actionType(ra, aptr)
		if spec != nil {
			a.Type = spec.Type
		} else {
			l.ok[i] = false
		}
		p.current = a.ID
		a.Option = p.option(spec, ra, joinPointer(aptr, "option"), l)
	}

	p.warnUnreachable(l)
	return l.actions
}

// actionID assigns the id of action i: a client's UUID is kept; a missing id, "" or the nil UUID gets a fresh UUID;
// a label gets the UUID derived from the list's namespace and the label (a fresh one without a namespace), and is
// remembered so that references to it can be rewritten.
func (p *parser) actionID(l *list, i int, n *node, ptr string) uuid.UUID {
	if n == nil || n.kind == kindNull {
		return uuid.New()
	}
	if n.kind != kindString {
		p.rep.errorf(n.start, ptr, ReasonInvalidField, "an action id must be a string, not %s", n.kind)
		return uuid.New()
	}
	if n.text == "" {
		return uuid.New()
	}
	if id, ok := ParseID(n.text); ok {
		if id == uuid.Nil {
			return uuid.New()
		}
		if first, dup := l.ids[id]; dup {
			p.rep.errorf(n.start, ptr, ReasonDuplicateActionID, "action id %s is already the id of action %d",
				n.text, first)
			return id
		}
		l.ids[id] = i
		return id
	}
	if first, dup := l.labels[n.text]; dup {
		p.rep.errorf(n.start, ptr, ReasonDuplicateActionID, "label %q is already the id of action %d",
			n.text, l.ids[first])
		return uuid.New()
	}
	id := p.labelID(n.text)
	if first, dup := l.ids[id]; dup {
		p.rep.errorf(n.start, ptr, ReasonDuplicateActionID, "label %q stands for the id %s, which action %d already has",
			n.text, id, first)
		return uuid.New()
	}
	l.labels[n.text] = id
	l.ids[id] = i
	return id
}

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

func (p *parser) actionType(ra *rawAction, aptr string) *Spec {
	ptr := joinPointer(aptr, "type")
	n := ra.typ
	switch {
	case n == nil || n.kind == kindNull:
		p.rep.errorf(ra.node.start, ptr, ReasonInvalidActionType, "every action needs a type")
		return nil
	case n.kind != kindString:
		p.rep.errorf(n.start, ptr, ReasonInvalidActionType, "type must be a string, not %s", n.kind)
		return nil
	}
	spec, ok := Lookup(Type(n.text))
	if !ok {
		// Suggestions for the first few unknown types only: a document of thousands of misspellings costs no
		// more to check than its bytes.
		s := Type("")
		if p.suggested < MaxSuggestions {
			p.suggested++
			s = suggest(n.text)
		}
		if s != "" {
			p.rep.errorf(n.start, ptr, ReasonInvalidActionType, "unknown action type %q; did you mean %q?", n.text, s)
		} else {
			p.rep.errorf(n.start, ptr, ReasonInvalidActionType, "unknown action type %q", n.text)
		}
		return nil
	}
	return spec
}

// replacement rewrites the bytes [start, end) of the document.
type replacement struct {
	start, end int
	text       string
}

// option validates the options of an action against its spec and returns them as sent, compacted, with labels
// rewritten. With spec nil (an unknown type) the options are kept without checks.
func (p *parser) option(spec *Spec, ra *rawAction, ptr string, l *list) json.RawMessage {
	n := ra.optns
	if n != nil && n.kind != kindNull && n.kind != kindObject {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "option must be a JSON object, not %s", n.kind)
		return nil
	}
	present := map[string]bool{}
	var repl []replacement
	if n != nil && n.kind == kindObject && spec != nil {
		for _, m := range n.members {
			mptr := joinPointer(ptr, m.key)
			f, known := spec.Field(m.key)
			if !known {
				p.rep.warnf(m.keyStart, mptr, WarnUnknownOptionKey, "%s has no option %q; it is kept as sent",
					spec.Type, m.key)
				continue
			}
			if m.value.kind == kindNull {
				continue
			}
			present[m.key] = true
			p.field(f, m.value, mptr, l, &repl)
		}
	}
	if spec != nil {
		at := ra.node.start
		if n != nil {
			at = n.start
		}
		for _, f := range spec.Fields {
			if !f.Required || present[f.Name] || anyPresent(present, f.OneOf) {
				continue
			}
			if len(f.OneOf) > 0 {
				p.rep.errorf(at, joinPointer(ptr, f.Name), ReasonInvalidActionOption, "%s needs option %q (or %q)",
					spec.Type, f.Name, f.OneOf[0])
			} else {
				p.rep.errorf(at, joinPointer(ptr, f.Name), ReasonInvalidActionOption, "%s needs option %q",
					spec.Type, f.Name)
			}
		}
		if r := ruleOf(spec.Type); r.warn != nil {
			if w := r.warn(present); w != nil {
				p.rep.warnf(at, joinPointer(ptr, w.field), w.reason, "%s", w.message)
			}
		}
	}
	if n == nil || n.kind == kindNull {
		return nil
	}
	out := p.render(n, repl)
	if len(out) > p.lim.maxOption() {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "options take %d bytes; at most %d", len(out), p.lim.maxOption())
	}
	return out
}

func anyPresent(present map[string]bool, names []string) bool {
	for _, n := range names {
		if present[n] {
			return true
		}
	}
	return false
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

// field checks one option value against its field spec.
func (p *parser) field(f Field, n *node, ptr string, l *list, repl *[]replacement) {
	bad := func(format string, args ...any) {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, format, args...)
	}
	wantKind := func(k kind, what string) bool {
		if n.kind != k {
			bad("%s must be %s, not %s", f.Name, what, n.kind)
			return false
		}
		return true
	}
	switch f.Kind {
	case KindString:
		if !wantKind(kindString, "a string") {
			return
		}
		if f.Ref == RefAction {
			p.actionRef(l, n, ptr, repl)
			return
		}
		p.checkString(f, n.text, n, ptr)
	case KindID:
		if !wantKind(kindString, "an id (a UUID)") {
			return
		}
		if n.text == "" || hasVariable(n.text) {
			return
		}
		if f.Ref == RefFlow {
			p.flowRef(n, ptr, ReasonInvalidActionOption)
			return
		}
		if !isUUID(n.text) {
			bad("%s must be a UUID (or a ${variable}), not %q", f.Name, n.text)
		}
	case KindURL:
		if wantKind(kindString, "a URL") {
			p.checkURL(f.Name, n, ptr)
		}
	case KindInt:
		if wantKind(kindNumber, "an integer") {
			p.checkInt(f, n, ptr)
		}
	case KindNumber:
		if wantKind(kindNumber, "a number") {
			if _, err := strconv.ParseFloat(n.text, 64); err != nil {
				bad("%s is out of range", f.Name)
			}
		}
	case KindBool:
		wantKind(kindBool, "true or false")
	case KindStringList, KindURLList, KindIntList, KindAddressList, KindObjectList:
		if !wantKind(kindArray, "an array") {
			return
		}
		if len(n.items) < f.MinItems {
			bad("%s needs at least %d item(s)", f.Name, f.MinItems)
		}
		for i, item := range n.items {
			p.listItem(f, item, joinPointer(ptr, strconv.Itoa(i)))
		}
	case KindAddress:
		if wantKind(kindObject, "an address object") {
			p.checkAddress(f.Name, n, ptr)
		}
	case KindTargetMap:
		if !wantKind(kindObject, "an object mapping values to action ids") {
			return
		}
		for _, m := range n.members {
			p.actionRef(l, m.value, joinPointer(ptr, m.key), repl)
		}
	case KindActions:
		if !wantKind(kindArray, "an array of actions") {
			return
		}
		before := len(p.rep.Errors)
		outer := p.ns
		if outer != uuid.Nil {
			p.ns = p.current // labels of a nested list are the call action's: stable while it keeps its id
		}
		saved := p.current
		sub := p.actions(n, ptr)
		p.ns, p.current = outer, saved
		if len(p.rep.Errors) == before {
			b, err := json.Marshal(sub)
			if err == nil {
				*repl = append(*repl, replacement{start: n.start, end: n.end, text: string(b)})
			}
		}
	}
}

func (p *parser) listItem(f Field, item *node, ptr string) {
	bad := func(format string, args ...any) {
		p.rep.errorf(item.start, ptr, ReasonInvalidActionOption, format, args...)
	}
	switch f.Kind {
	case KindStringList:
		if item.kind != kindString {
			bad("items of %s must be strings, not %s", f.Name, item.kind)
			return
		}
		p.checkString(f, item.text, item, ptr)
	case KindURLList:
		if item.kind != kindString {
			bad("items of %s must be URLs (strings), not %s", f.Name, item.kind)
			return
		}
		p.checkURL(f.Name, item, ptr)
	case KindIntList:
		if item.kind != kindNumber {
			bad("items of %s must be integers, not %s", f.Name, item.kind)
			return
		}
		p.checkInt(f, item, ptr)
	case KindAddressList:
		if item.kind != kindObject {
			bad("items of %s must be address objects, not %s", f.Name, item.kind)
			return
		}
		p.checkAddress(f.Name, item, ptr)
	case KindObjectList:
		if item.kind != kindObject {
			bad("items of %s must be objects, not %s", f.Name, item.kind)
		}
	}
}

func (p *parser) checkString(f Field, s string, n *node, ptr string) {
	if utf8.RuneCountInString(s) < f.MinLen {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must not be empty", f.Name)
		return
	}
	if hasVariable(s) {
		return
	}
	if len(f.Enum) > 0 && !contains(f.Enum, s) {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must be one of %s, not %q", f.Name, quoteAll(f.Enum), s)
		return
	}
	if f.Pattern != nil && !f.Pattern.MatchString(s) {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s %q does not match %s", f.Name, s, f.Pattern)
	}
}

func (p *parser) checkURL(name string, n *node, ptr string) {
	if hasVariable(n.text) {
		return
	}
	u, err := url.Parse(n.text)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must be an absolute http(s) URL, not %q", name, n.text)
	}
}

func (p *parser) checkInt(f Field, n *node, ptr string) {
	v, err := strconv.ParseInt(n.text, 10, 64)
	if err != nil {
		if _, ferr := strconv.ParseFloat(n.text, 64); ferr == nil && !bytes.ContainsAny([]byte(n.text), ".eE") {
			p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s %s is out of range", f.Name, n.text)
		} else {
			p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must be an integer, not %s", f.Name, n.text)
		}
		return
	}
	if (f.Min != nil && v < *f.Min) || (f.Max != nil && v > *f.Max) {
		switch {
		case f.Min != nil && f.Max != nil:
			p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must be between %d and %d, not %d",
				f.Name, *f.Min, *f.Max, v)
		case f.Min != nil:
			p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must be at least %d, not %d", f.Name, *f.Min, v)
		default:
			p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must be at most %d, not %d", f.Name, *f.Max, v)
		}
	}
}

func (p *parser) checkAddress(name string, n *node, ptr string) {
	for _, key := range []string{"type", "target"} {
		v := n.get(key)
		switch {
		case v == nil || v.kind == kindNull:
			p.rep.errorf(n.start, joinPointer(ptr, key), ReasonInvalidActionOption, "an address in %s needs %q", name, key)
		case v.kind != kindString:
			p.rep.errorf(v.start, joinPointer(ptr, key), ReasonInvalidActionOption, "%s of an address must be a string, not %s",
				key, v.kind)
		case v.text == "":
			p.rep.errorf(v.start, joinPointer(ptr, key), ReasonInvalidActionOption, "%s of an address must not be empty", key)
		}
	}
}

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

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func quoteAll(list []string) string {
	var b bytes.Buffer
	for i, s := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(s))
	}
	return b.String()
}
