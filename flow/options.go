package flow

import (
	"bytes"
	"net/url"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The option checks: what an action's option value must be, given its field in the catalog. The parser (parse.go)
// finds the values; here they are checked, by one table.

// optionKind is how the values of one kind of field are checked.
type optionKind struct {
	json kind   // the JSON kind the value must have
	noun string // what a message calls a value of the right kind: "… must be <noun>, not <kind>"
	// check checks a value of the right kind further; nil: nothing more to check.
	check optionCheck
}

// optionCheck checks the value n of field f, at ptr. References to actions resolve in l, and their rewrites to
// ids are appended to repl.
type optionCheck func(p *parser, f Field, n *node, ptr string, l *list, repl *[]replacement)

// optionKinds has a row for every Kind.
var optionKinds = map[Kind]optionKind{
	KindString:      {json: kindString, noun: "a string", check: checkStringOrRef},
	KindID:          {json: kindString, noun: "an id (a UUID)", check: checkID},
	KindURL:         {json: kindString, noun: "a URL", check: checkURL},
	KindInt:         {json: kindNumber, noun: "an integer", check: checkInt},
	KindNumber:      {json: kindNumber, noun: "a number", check: checkNumber},
	KindBool:        {json: kindBool, noun: "true or false"},
	KindStringList:  {json: kindArray, noun: "an array", check: items(optionKind{json: kindString, noun: "strings", check: checkString})},
	KindURLList:     {json: kindArray, noun: "an array", check: items(optionKind{json: kindString, noun: "URLs (strings)", check: checkURL})},
	KindIntList:     {json: kindArray, noun: "an array", check: items(optionKind{json: kindNumber, noun: "integers", check: checkInt})},
	KindAddress:     {json: kindObject, noun: "an address object", check: checkAddress},
	KindAddressList: {json: kindArray, noun: "an array", check: items(optionKind{json: kindObject, noun: "address objects", check: checkAddress})},
	KindObjectList:  {json: kindArray, noun: "an array", check: items(optionKind{json: kindObject, noun: "objects"})},
	KindTargetMap:   {json: kindObject, noun: "an object mapping values to action ids", check: checkTargets},
	// The nested list itself is read by the parser (parse.go: nestedActions), like a flow's.
	KindActions: {json: kindArray, noun: "an array of actions"},
}

// field checks one option value against its field spec, and reports whether it is of the right JSON kind.
func (p *parser) field(f Field, n *node, ptr string, l *list, repl *[]replacement) bool {
	k := optionKinds[f.Kind]
	if n.kind != k.json {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must be %s, not %s", f.Name, k.noun, n.kind)
		return false
	}
	if k.check != nil {
		k.check(p, f, n, ptr, l, repl)
	}
	return true
}

// items is the check of a list kind: its length, and each item as k says (k's noun in the plural).
func items(k optionKind) optionCheck {
	return func(p *parser, f Field, n *node, ptr string, _ *list, _ *[]replacement) {
		if len(n.items) < f.MinItems {
			p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s needs at least %d item(s)", f.Name, f.MinItems)
		}
		for i, item := range n.items {
			iptr := joinPointer(ptr, strconv.Itoa(i))
			if item.kind != k.json {
				p.rep.errorf(item.start, iptr, ReasonInvalidActionOption, "items of %s must be %s, not %s", f.Name, k.noun, item.kind)
				continue
			}
			if k.check != nil {
				k.check(p, f, item, iptr, nil, nil)
			}
		}
	}
}

func checkID(p *parser, f Field, n *node, ptr string, _ *list, _ *[]replacement) {
	if n.text == "" || hasVariable(n.text) {
		return
	}
	if f.Ref == RefFlow {
		p.flowRef(n, ptr, ReasonInvalidActionOption)
		return
	}
	if !isUUID(n.text) {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must be a UUID (or a ${variable}), not %q", f.Name, n.text)
	}
}

func checkNumber(p *parser, f Field, n *node, ptr string, _ *list, _ *[]replacement) {
	if _, err := strconv.ParseFloat(n.text, 64); err != nil {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s is out of range", f.Name)
	}
}

// checkStringOrRef checks a string, or resolves a reference to an action.
func checkStringOrRef(p *parser, f Field, n *node, ptr string, l *list, repl *[]replacement) {
	if f.Ref == RefAction {
		p.actionRef(l, n, ptr, repl)
		return
	}
	checkString(p, f, n, ptr, l, repl)
}

func checkTargets(p *parser, _ Field, n *node, ptr string, l *list, repl *[]replacement) {
	for _, m := range n.members {
		p.actionRef(l, m.value, joinPointer(ptr, m.key), repl)
	}
}

func checkString(p *parser, f Field, n *node, ptr string, _ *list, _ *[]replacement) {
	s := n.text
	if utf8.RuneCountInString(s) < f.MinLen {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must not be empty", f.Name)
		return
	}
	if hasVariable(s) {
		return
	}
	if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must be one of %s, not %q", f.Name, quoteAll(f.Enum), s)
		return
	}
	if f.Pattern != nil && !f.Pattern.MatchString(s) {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s %q does not match %s", f.Name, s, f.Pattern)
	}
}

func checkURL(p *parser, f Field, n *node, ptr string, _ *list, _ *[]replacement) {
	if hasVariable(n.text) {
		return
	}
	u, err := url.Parse(n.text)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.rep.errorf(n.start, ptr, ReasonInvalidActionOption, "%s must be an absolute http(s) URL, not %q", f.Name, n.text)
	}
}

func checkInt(p *parser, f Field, n *node, ptr string, _ *list, _ *[]replacement) {
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

func checkAddress(p *parser, f Field, n *node, ptr string, _ *list, _ *[]replacement) {
	for _, key := range []string{"type", "target"} {
		v := n.get(key)
		switch {
		case v == nil || v.kind == kindNull:
			p.rep.errorf(n.start, joinPointer(ptr, key), ReasonInvalidActionOption, "an address in %s needs %q", f.Name, key)
		case v.kind != kindString:
			p.rep.errorf(v.start, joinPointer(ptr, key), ReasonInvalidActionOption, "%s of an address must be a string, not %s",
				key, v.kind)
		case v.text == "":
			p.rep.errorf(v.start, joinPointer(ptr, key), ReasonInvalidActionOption, "%s of an address must not be empty", key)
		}
	}
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
