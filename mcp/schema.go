package mcp

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// The tools' input schemas are derived from openapi.yaml, the one source of truth: an operation's parameters
// (path, query, header) and the properties of its JSON request body become the properties of one object, and
// every schema it refers to is copied into $defs. OpenAPI 3.0's schema dialect is turned into JSON Schema on the
// way: `nullable` becomes a "null" type, and what JSON Schema does not know (examples, x- extensions,
// discriminators) is dropped.

// spec is openapi.yaml as JSON values.
type spec struct {
	doc map[string]any
}

func parseSpec(b []byte) (*spec, error) {
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("mcp: read the API description: %w", err)
	}
	return &spec{doc: doc}, nil
}

// operation is what a tool needs of one operation of the spec.
type operation struct {
	method, path string
	summary      string
	params       map[string]map[string]any // by name, resolved
	body         map[string]any            // the JSON body's schema, resolved one level; nil without body
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// resolve follows a local $ref ("#/components/...") once.
func (s *spec) resolve(v map[string]any) (map[string]any, error) {
	for range 8 {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v, nil
		}
		var cur any = s.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = obj(cur)[part]
		}
		if obj(cur) == nil {
			return nil, fmt.Errorf("mcp: the API description has no %s", ref)
		}
		v = obj(cur)
	}
	return nil, fmt.Errorf("mcp: $ref chain too long")
}

// operation finds an operation by its operationId.
func (s *spec) operation(id string) (*operation, error) {
	for path, item := range obj(s.doc["paths"]) {
		for method, o := range obj(item) {
			op := obj(o)
			if op == nil || op["operationId"] != id {
				continue
			}
			res := &operation{method: strings.ToUpper(method), path: path, params: map[string]map[string]any{}}
			res.summary, _ = op["summary"].(string)
			pathParams, _ := obj(item)["parameters"].([]any)
			opParams, _ := op["parameters"].([]any)
			all := append(append([]any{}, pathParams...), opParams...)
			for _, p := range all {
				pm, err := s.resolve(obj(p))
				if err != nil {
					return nil, err
				}
				res.params[pm["name"].(string)] = pm
			}
			if rb := obj(op["requestBody"]); rb != nil {
				rb, err := s.resolve(rb)
				if err != nil {
					return nil, err
				}
				schema := obj(obj(obj(rb["content"])["application/json"])["schema"])
				if schema == nil {
					return nil, fmt.Errorf("mcp: %s has no JSON body", id)
				}
				if res.body, err = s.resolve(schema); err != nil {
					return nil, err
				}
			}
			return res, nil
		}
	}
	return nil, fmt.Errorf("mcp: the API description has no operation %q", id)
}

// argName is a parameter's name as a tool argument: If-Match becomes if_match.
func argName(param string) string { return strings.ToLower(strings.ReplaceAll(param, "-", "_")) }

// inputSchema builds a tool's input schema from an operation: the named parameters and, with a body, every
// property of the body. A parameter the operation does not have, or a name taken twice, is an error: the tools
// cannot drift from the spec.
func (s *spec) inputSchema(op *operation, params []string) (map[string]any, error) {
	props := map[string]any{}
	var required []string
	defs := map[string]any{}
	conv := &converter{spec: s, defs: defs}
	for _, name := range params {
		p, ok := op.params[name]
		if !ok {
			return nil, fmt.Errorf("mcp: %s %s has no parameter %q", op.method, op.path, name)
		}
		sch, err := conv.convert(p["schema"])
		if err != nil {
			return nil, err
		}
		m := obj(sch)
		if d, ok := p["description"].(string); ok && m["description"] == nil {
			m["description"] = strings.TrimSpace(d)
		}
		props[argName(name)] = m
		if p["required"] == true {
			required = append(required, argName(name))
		}
	}
	additional := any(false)
	if op.body != nil {
		for name, v := range obj(op.body["properties"]) {
			if _, taken := props[name]; taken {
				return nil, fmt.Errorf("mcp: %s %s: body field %q has a parameter's name", op.method, op.path, name)
			}
			sch, err := conv.convert(v)
			if err != nil {
				return nil, err
			}
			props[name] = sch
		}
		req, _ := op.body["required"].([]any)
		for _, r := range req {
			required = append(required, r.(string))
		}
		// Unknown fields go to the API, whose field validation warns about them or refuses them.
		additional = true
		if op.body["additionalProperties"] == false {
			additional = false
		}
	}
	if err := conv.closeDefs(); err != nil {
		return nil, err
	}
	sort.Strings(required)
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": additional}
	if len(required) > 0 {
		out["required"] = required
	}
	if len(defs) > 0 {
		out["$defs"] = defs
	}
	return out, nil
}

// converter turns OpenAPI schemas into JSON Schema, collecting the component schemas they refer to.
type converter struct {
	spec    *spec
	defs    map[string]any
	pending []string
}

const schemaRef = "#/components/schemas/"

func (c *converter) convert(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			switch {
			case k == "example" || k == "examples" || k == "discriminator" || k == "xml" || k == "externalDocs" ||
				k == "nullable" || strings.HasPrefix(k, "x-"):
				continue
			case k == "$ref":
				ref, _ := val.(string)
				name, ok := strings.CutPrefix(ref, schemaRef)
				if !ok {
					return nil, fmt.Errorf("mcp: unexpected $ref %q", ref)
				}
				if _, seen := c.defs[name]; !seen {
					c.defs[name] = nil
					c.pending = append(c.pending, name)
				}
				out[k] = "#/$defs/" + name
			default:
				cv, err := c.convert(val)
				if err != nil {
					return nil, err
				}
				out[k] = cv
			}
		}
		if t["nullable"] == true {
			if typ, ok := out["type"].(string); ok {
				out["type"] = []any{typ, "null"}
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			cv, err := c.convert(val)
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	}
	return v, nil
}

// closeDefs converts every component schema referred to, and those they refer to.
func (c *converter) closeDefs() error {
	for len(c.pending) > 0 {
		name := c.pending[0]
		c.pending = c.pending[1:]
		src := obj(obj(obj(c.spec.doc["components"])["schemas"])[name])
		if src == nil {
			return fmt.Errorf("mcp: the API description has no schema %q", name)
		}
		cv, err := c.convert(src)
		if err != nil {
			return err
		}
		c.defs[name] = cv
	}
	return nil
}

// schema converts one component schema (with its $defs) into a standalone JSON Schema.
func (s *spec) schema(name string) (map[string]any, error) {
	c := &converter{spec: s, defs: map[string]any{}}
	root, err := c.convert(map[string]any{"$ref": schemaRef + name})
	if err != nil {
		return nil, err
	}
	if err := c.closeDefs(); err != nil {
		return nil, err
	}
	out := obj(root)
	out["$defs"] = c.defs
	return out, nil
}
