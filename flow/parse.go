package flow

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/google/uuid"
)

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
			if p.field(f, m.value, mptr, l, &repl) && f.Kind == KindActions {
				p.nestedActions(m.value, mptr, &repl)
			}
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

// nestedActions reads the nested action list of a call action, like a flow's, and rewrites it as read (labels
// turned to ids) when it has no errors.
func (p *parser) nestedActions(n *node, ptr string, repl *[]replacement) {
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

// warnUnreachable warns of each action of the list that no execution can reach.
func (p *parser) warnUnreachable(l *list) {
	for i, ok := range Reachable(l.actions) {
		if !ok {
			p.rep.warnf(l.actionStart(i), joinPointer(l.ptr, strconv.Itoa(i)), WarnUnreachableAction,
				"action %d (%s) can never run: no action leads to it", i, l.actions[i].Type)
		}
	}
}
