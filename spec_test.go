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
