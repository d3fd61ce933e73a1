package flow

import (
	"regexp"
	"strings"
)

// Kind is the JSON shape of an option field.
type Kind int

// The option field kinds.
const (
	KindString      Kind = iota // a string
	KindID                      // a UUID of something outside the flow, "" for none, or a ${variable}
	KindURL                     // an absolute http(s) URL, or a ${variable}
	KindInt                     // an integer
	KindNumber                  // any number
	KindBool                    // true or false
	KindStringList              // an array of strings
	KindURLList                 // an array of URLs
	KindIntList                 // an array of integers
	KindAddress                 // an Address object
	KindAddressList             // an array of Address objects
	KindObjectList              // an array of objects
	KindTargetMap               // an object mapping values to action references
	KindActions                 // a nested list of actions, validated like a flow's
)

// Ref says what a field refers to, so that it can be checked and rewritten.
type Ref int

// The reference kinds.
const (
	RefNone   Ref = iota
	RefAction     // an action of the same list: its UUID or its label
	RefFlow       // a live flow of the same customer
)

// Field describes one option field of an action type.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
	Ref      Ref
	Enum     []string       // allowed values of a string field
	Pattern  *regexp.Regexp // a string field (or string list items) must match
	MinLen   int            // shortest string
	Min, Max *int64         // range of an integer field (or integer list items)
	MinItems int            // fewest items of a list
	// Deprecated marks a legacy name, accepted and returned verbatim.
	Deprecated bool
	// OneOf names alternatives of a required field: the requirement is met when any of them is set, such as
	// play's legacy stream_url for stream_urls.
	OneOf []string
}

// Spec describes an action type and its options. How it moves an execution on is its rule (control.go), declared
// with its spec in the type's file (catalog.go for the runner types).
type Spec struct {
	Type   Type
	Fields []Field
}

// Field returns the named field of the type, or false.
func (s *Spec) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

func rng(lo, hi int64) (*int64, *int64) { return &lo, &hi }

func intField(name string, lo, hi int64) Field {
	mn, mx := rng(lo, hi)
	return Field{Name: name, Kind: KindInt, Min: mn, Max: mx}
}

// OptionSchema is the name of the OpenAPI schema that documents the type's options, such as ActionOptionTalk.
func (t Type) OptionSchema() string {
	var b strings.Builder
	b.WriteString("ActionOption")
	for _, part := range strings.Split(string(t), "_") {
		switch part {
		case "ai", "amd":
			b.WriteString(strings.ToUpper(part))
		default:
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
