package flowbin_test

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	flowbin "github.com/flowbin/flowbin"
)

func TestSpecIsValid(t *testing.T) {
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(flowbin.OpenAPIYAML())
	if err != nil {
		t.Fatalf("openapi.yaml does not load: %v", err)
	}
	if err := spec.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is invalid: %v", err)
	}
	seen := map[string]string{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			if prev, dup := seen[op.OperationID]; dup {
				t.Errorf("operationId %s is used by %s and %s %s", op.OperationID, prev, method, path)
			}
			seen[op.OperationID] = method + " " + path
		}
	}
}

// TestSpecDocumentsEverything: every operation has a summary, a description, tags, examples of its successful
// answers and documented errors in the envelope; every schema property has a description.
func TestSpecDocumentsEverything(t *testing.T) {
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(flowbin.OpenAPIYAML())
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.Summary == "" || op.Description == "" || len(op.Tags) == 0 {
				t.Errorf("%s: needs a summary, a description and tags", where)
			}
			hasError := false
			for code, ref := range op.Responses.Map() {
				resp := ref.Value
				if resp.Description == nil || *resp.Description == "" {
					t.Errorf("%s %s: no description", where, code)
				}
				if code[0] == '2' || code[0] == '3' {
					for ct, media := range resp.Content {
						if media.Example == nil && len(media.Examples) == 0 && media.Schema.Value.Example == nil &&
							media.Schema.Ref == "" {
							t.Errorf("%s %s %s: no example", where, code, ct)
						}
					}
					continue
				}
				hasError = true
				media := resp.Content.Get("application/json")
				if media == nil || media.Schema.Ref != "#/components/schemas/Error" {
					t.Errorf("%s %s: errors must be the Error envelope", where, code)
				}
			}
			if !hasError {
				t.Errorf("%s: no documented error", where)
			}
		}
	}
	for name, ref := range spec.Components.Schemas {
		checkDescriptions(t, name, ref.Value, map[*openapi3.Schema]bool{})
	}
}

func checkDescriptions(t *testing.T, where string, s *openapi3.Schema, seen map[*openapi3.Schema]bool) {
	t.Helper()
	if seen[s] {
		return
	}
	seen[s] = true
	for name, p := range s.Properties {
		if p.Ref == "" && p.Value.Description == "" {
			t.Errorf("%s.%s has no description", where, name)
		}
		if p.Ref == "" {
			checkDescriptions(t, where+"."+name, p.Value, seen)
		}
	}
	for _, sub := range s.AllOf {
		if sub.Ref == "" {
			checkDescriptions(t, where, sub.Value, seen)
		}
	}
	if s.Items != nil && s.Items.Ref == "" {
		checkDescriptions(t, where+"[]", s.Items.Value, seen)
	}
}

// TestSpecOptionalParametersHaveNoExample: Swagger UI's "Try it out" fills a parameter's example (its own, its
// first named example, or its schema's) into the form and sends it. An optional parameter must start empty, or
// clicking Execute would page past every flow, replay an idempotent create, or fail on a stale If-Match. Examples of
// optional parameters live in their descriptions.
func TestSpecOptionalParametersHaveNoExample(t *testing.T) {
	spec, err := openapi3.NewLoader().LoadFromData(flowbin.OpenAPIYAML())
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			for _, ref := range params {
				p := ref.Value
				if p.Required {
					continue
				}
				where := method + " " + path + " " + p.In + " " + p.Name
				if p.Example != nil || len(p.Examples) > 0 {
					t.Errorf("%s: optional, yet has an example that Swagger UI would send", where)
				}
				if p.Schema != nil && p.Schema.Value.Example != nil {
					t.Errorf("%s: optional, yet its schema has an example that Swagger UI would send", where)
				}
			}
		}
	}
}
