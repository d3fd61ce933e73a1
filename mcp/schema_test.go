package mcp

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	flowbin "github.com/flowbin/flowbin"
)

func noSend(context.Context, *sdk.RequestExtra, *http.Request) (*http.Response, error) {
	panic("not called")
}

// TestInputSchemasFollowTheSpec reads the spec a second way (kin-openapi, as the server does) and checks that
// every tool's arguments are exactly its operation's parameters and body fields, with the body's schemas.
func TestInputSchemasFollowTheSpec(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(flowbin.OpenAPIYAML())
	if err != nil {
		t.Fatal(err)
	}
	sp, err := parseSpec(flowbin.OpenAPIJSON())
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range restTools {
		var kop *openapi3.Operation
		var kpath *openapi3.PathItem
		for _, item := range doc.Paths.Map() {
			for _, o := range item.Operations() {
				if o.OperationID == ts.opID {
					kop, kpath = o, item
				}
			}
		}
		if kop == nil {
			t.Fatalf("%s: no operation %s", ts.name, ts.opID)
		}
		var want []string
		for _, p := range append(slices.Clone(kpath.Parameters), kop.Parameters...) {
			if slices.Contains(ts.params, p.Value.Name) {
				want = append(want, argName(p.Value.Name))
			}
		}
		if len(want) != len(ts.params) {
			t.Errorf("%s: takes %v, the operation has %v", ts.name, ts.params, want)
		}
		var body *openapi3.Schema
		if kop.RequestBody != nil {
			body = kop.RequestBody.Value.Content.Get("application/json").Schema.Value
			for name := range body.Properties {
				want = append(want, name)
			}
		}
		sort.Strings(want)
		op, err := sp.operation(ts.opID)
		if err != nil {
			t.Fatal(err)
		}
		schema, err := sp.inputSchema(op, ts.params)
		if err != nil {
			t.Fatalf("%s: %v", ts.name, err)
		}
		var got []string
		for name := range obj(schema["properties"]) {
			got = append(got, name)
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: arguments %v, the spec says %v", ts.name, got, want)
		}
		if body != nil {
			for name, prop := range body.Properties {
				if prop.Ref != "" {
					ref := obj(obj(schema["properties"])[name])["$ref"]
					if ref != "#/$defs/"+strings.TrimPrefix(prop.Ref, schemaRef) {
						t.Errorf("%s.%s: $ref %v, the spec says %s", ts.name, name, ref, prop.Ref)
					}
				}
			}
		}
		// Every $ref resolves inside the schema.
		b, _ := json.Marshal(schema)
		defs := obj(schema["$defs"])
		for _, part := range strings.Split(string(b), `"$ref":"#/$defs/`)[1:] {
			name := part[:strings.IndexByte(part, '"')]
			if defs[name] == nil {
				t.Errorf("%s: $ref to %s, which is not in $defs", ts.name, name)
			}
		}
	}
}

// drifted answers the embedded spec changed by edit.
func drifted(t *testing.T, edit func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(flowbin.OpenAPIJSON(), &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSchemaDriftCaught: when the spec and the tools disagree, the server does not start.
func TestSchemaDriftCaught(t *testing.T) {
	if _, err := newServer(flowbin.OpenAPIJSON(), noSend, "test"); err != nil {
		t.Fatalf("the embedded spec: %v", err)
	}
	cases := map[string]func(doc map[string]any){
		"a parameter removed": func(doc map[string]any) {
			put := obj(obj(obj(doc["paths"])["/v1.0/flows/{id}"])["put"])
			put["parameters"] = []any{}
		},
		"an operation renamed": func(doc map[string]any) {
			obj(obj(obj(doc["paths"])["/v1.0/flows/{id}"])["delete"])["operationId"] = "removeFlow"
		},
		"a body field that clashes with a parameter": func(doc map[string]any) {
			props := obj(obj(obj(doc["components"])["schemas"])["FlowInput"])["properties"]
			obj(props)["if_match"] = map[string]any{"type": "string"}
		},
		"a schema that is gone": func(doc map[string]any) {
			delete(obj(obj(doc["components"])["schemas"]), "SimulationStep")
		},
		"an action type without its options": func(doc map[string]any) {
			delete(obj(obj(doc["components"])["schemas"]), "ActionOptionTalk")
			// Action's option refers to it too: keep the rest resolvable.
			action := obj(obj(obj(obj(doc["components"])["schemas"])["Action"])["properties"])
			opt := obj(action["option"])
			var keep []any
			for _, r := range opt["anyOf"].([]any) {
				if obj(r)["$ref"] != "#/components/schemas/ActionOptionTalk" {
					keep = append(keep, r)
				}
			}
			opt["anyOf"] = keep
		},
	}
	for name, edit := range cases {
		if _, err := newServer(drifted(t, edit), noSend, "test"); err == nil {
			t.Errorf("%s: the server started", name)
		}
	}
}
