package flow_test

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/internal/apitest"
)

var spec = apitest.MustLoad().Spec()

// TestCatalogMatchesSpec fails when openapi.yaml's ActionType enum, its ActionOption… schemas and the Go catalog
// disagree in any way: types, field names, JSON types, required fields, enums, ranges and patterns.
func TestCatalogMatchesSpec(t *testing.T) {
	var enum []string
	for _, v := range spec.Components.Schemas["ActionType"].Value.Enum {
		enum = append(enum, v.(string))
	}
	sort.Strings(enum)
	var types []string
	for _, ty := range flow.Types() {
		types = append(types, string(ty))
	}
	if !slices.Equal(enum, types) {
		t.Fatalf("ActionType enum %v != catalog %v", enum, types)
	}
	if len(types) != 43 {
		t.Errorf("got %d action types, want 43", len(types))
	}

	var anyOf []string
	for _, s := range spec.Components.Schemas["Action"].Value.Properties["option"].Value.AnyOf {
		anyOf = append(anyOf, s.Ref)
	}
	for _, ty := range flow.Types() {
		name := ty.OptionSchema()
		t.Run(string(ty), func(t *testing.T) {
			if !slices.Contains(anyOf, "#/components/schemas/"+name) {
				t.Errorf("Action.option.anyOf does not list %s", name)
			}
			ref, ok := spec.Components.Schemas[name]
			if !ok {
				t.Fatalf("no schema %s", name)
			}
			schema := ref.Value
			if schema.Description == "" {
				t.Errorf("%s has no description", name)
			}
			if schema.AdditionalProperties.Has == nil || !*schema.AdditionalProperties.Has {
				t.Errorf("%s must keep unknown keys (additionalProperties: true)", name)
			}
			s, _ := flow.Lookup(ty)
			var fields, props []string
			for _, f := range s.Fields {
				fields = append(fields, f.Name)
			}
			for p := range schema.Properties {
				props = append(props, p)
			}
			sort.Strings(fields)
			sort.Strings(props)
			if !slices.Equal(fields, props) {
				t.Fatalf("%s properties %v != catalog fields %v", name, props, fields)
			}
			for _, f := range s.Fields {
				checkField(t, name, f, schema.Properties[f.Name], slices.Contains(schema.Required, f.Name))
			}
		})
	}
}

func checkField(t *testing.T, schemaName string, f flow.Field, ref *openapi3.SchemaRef, required bool) {
	t.Helper()
	p := ref.Value
	where := schemaName + "." + f.Name
	if p.Description == "" {
		t.Errorf("%s has no description", where)
	}
	if want := f.Required && len(f.OneOf) == 0; required != want {
		t.Errorf("%s: required %v in the spec, %v in the catalog", where, required, want)
	}
	if p.Deprecated != f.Deprecated {
		t.Errorf("%s: deprecated %v in the spec, %v in the catalog", where, p.Deprecated, f.Deprecated)
	}
	item := p
	switch f.Kind {
	case flow.KindString, flow.KindID, flow.KindURL:
		wantType(t, where, p, "string")
	case flow.KindInt:
		wantType(t, where, p, "integer")
	case flow.KindNumber:
		wantType(t, where, p, "number")
	case flow.KindBool:
		wantType(t, where, p, "boolean")
	case flow.KindStringList, flow.KindURLList:
		wantType(t, where, p, "array")
		item = p.Items.Value
		wantType(t, where+"[]", item, "string")
	case flow.KindIntList:
		wantType(t, where, p, "array")
		item = p.Items.Value
		wantType(t, where+"[]", item, "integer")
	case flow.KindAddress:
		if ref.Ref != "#/components/schemas/Address" {
			t.Errorf("%s: want a $ref to Address, got %q", where, ref.Ref)
		}
	case flow.KindAddressList:
		wantType(t, where, p, "array")
		if p.Items.Ref != "#/components/schemas/Address" {
			t.Errorf("%s: want items of Address, got %q", where, p.Items.Ref)
		}
	case flow.KindObjectList, flow.KindActions:
		wantType(t, where, p, "array")
		wantType(t, where+"[]", p.Items.Value, "object")
	case flow.KindTargetMap:
		wantType(t, where, p, "object")
		if p.AdditionalProperties.Schema == nil || !p.AdditionalProperties.Schema.Value.Type.Is("string") {
			t.Errorf("%s: want additionalProperties of strings", where)
		}
	default:
		t.Errorf("%s: unknown kind %d", where, f.Kind)
	}
	var enum []string
	for _, v := range item.Enum {
		enum = append(enum, v.(string))
	}
	if !slices.Equal(enum, f.Enum) {
		t.Errorf("%s: enum %q in the spec, %q in the catalog", where, enum, f.Enum)
	}
	if !sameBound(item.Min, f.Min) || !sameBound(item.Max, f.Max) {
		t.Errorf("%s: range [%v, %v] in the spec differs from the catalog", where, item.Min, item.Max)
	}
	pattern := ""
	if f.Pattern != nil {
		pattern = f.Pattern.String()
	}
	if item.Pattern != pattern {
		t.Errorf("%s: pattern %q in the spec, %q in the catalog", where, item.Pattern, pattern)
	}
	if int(item.MinLength) != f.MinLen {
		t.Errorf("%s: minLength %d in the spec, %d in the catalog", where, item.MinLength, f.MinLen)
	}
	if int(p.MinItems) != f.MinItems {
		t.Errorf("%s: minItems %d in the spec, %d in the catalog", where, p.MinItems, f.MinItems)
	}
}

func wantType(t *testing.T, where string, s *openapi3.Schema, want string) {
	t.Helper()
	if !s.Type.Is(want) {
		t.Errorf("%s: type %v in the spec, want %s", where, s.Type, want)
	}
}

func sameBound(spec *float64, catalog *int64) bool {
	if spec == nil || catalog == nil {
		return spec == nil && catalog == nil
	}
	return int64(*spec) == *catalog
}

// TestEveryTypeRoundTrips builds a flow with one action of each type, every option set (from the spec's
// examples), and checks that it is valid and that its options come back exactly as sent.
func TestEveryTypeRoundTrips(t *testing.T) {
	const anchor = "9461bda1-54fd-4e27-ab04-4186c6f72830"
	for _, ty := range flow.Types() {
		t.Run(string(ty), func(t *testing.T) {
			opt, err := apitest.OptionExample(spec, ty, anchor)
			if err != nil {
				t.Fatal(err)
			}
			optJSON, _ := json.Marshal(opt)
			doc, _ := json.Marshal(map[string]any{"actions": []any{
				map[string]any{"id": anchor, "type": "answer"},
				map[string]any{"type": ty, "option": json.RawMessage(optJSON)},
				map[string]any{"type": "hangup"},
			}})
			def, rep := flow.Parse(doc, flow.Limits{})
			if !rep.Valid() {
				t.Fatalf("example %s: %+v", optJSON, rep.Errors)
			}
			for _, w := range rep.Warnings {
				if w.Reason != flow.WarnUnreachableAction {
					t.Errorf("unexpected warning: %+v", w)
				}
			}
			a := def.Actions[1]
			if a.Type != ty || !jsonEqual(t, a.Option, optJSON) {
				t.Errorf("round trip: got %s %s, want %s %s", a.Type, a.Option, ty, optJSON)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// TestEveryControlTypeHasItsFile: a control type is declared in a file of its own, named after it, and a runner
// type is a row of the catalog, with no file of that name: adding a type means adding its file (or its row).
func TestEveryControlTypeHasItsFile(t *testing.T) {
	for _, typ := range flow.Types() {
		_, err := os.Stat(string(typ) + ".go")
		switch {
		case flow.IsControl(typ) && err != nil:
			t.Errorf("control type %s: %v; it is declared in %s.go", typ, err, typ)
		case !flow.IsControl(typ) && err == nil:
			t.Errorf("runner type %s has a file of its own; runner types are rows of catalog.go", typ)
		}
	}
}
