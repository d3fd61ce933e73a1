package apitest

import (
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/flowbin/flowbin/flow"
)

// OptionExample builds an option object for the action type from the examples of its ActionOption… schema, with
// every documented field set. Fields that refer to other actions are set to actionRef.
func OptionExample(spec *openapi3.T, t flow.Type, actionRef string) (map[string]any, error) {
	ref, ok := spec.Components.Schemas[t.OptionSchema()]
	if !ok {
		return nil, fmt.Errorf("no schema %s", t.OptionSchema())
	}
	fs, _ := flow.Lookup(t)
	out := map[string]any{}
	for name, prop := range ref.Value.Properties {
		if f, ok := fs.Field(name); ok && f.Ref == flow.RefAction {
			if f.Kind == flow.KindTargetMap {
				out[name] = map[string]any{"1": actionRef, "2": actionRef}
			} else {
				out[name] = actionRef
			}
			continue
		}
		v, err := example(spec, name, prop)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.OptionSchema(), name, err)
		}
		out[name] = v
	}
	return out, nil
}

func example(spec *openapi3.T, name string, ref *openapi3.SchemaRef) (any, error) {
	s := ref.Value
	if s.Example != nil {
		return s.Example, nil
	}
	switch {
	case s.Type.Is("object") && len(s.Properties) > 0:
		obj := map[string]any{}
		for k, p := range s.Properties {
			v, err := example(spec, k, p)
			if err != nil {
				return nil, err
			}
			obj[k] = v
		}
		return obj, nil
	case s.Type.Is("object"):
		return map[string]any{}, nil
	case s.Type.Is("array") && name == "actions":
		return []any{map[string]any{"id": "6f1c1c56-2d0a-4c8e-9b55-0d8a3f0f2a11", "type": "answer"}}, nil
	case s.Type.Is("array"):
		item, err := example(spec, name, s.Items)
		if err != nil {
			return nil, err
		}
		return []any{item}, nil
	}
	return nil, fmt.Errorf("no example")
}
