package server

import (
	"slices"
	"testing"

	"github.com/flowbin/flowbin/gen"
)

// TestOperationIndexFollowsOverlay: the operations whose bodies package flow reads (the OpenAPI validator leaves
// them alone) are the ones whose bodies the generator's overlay hands over raw and that hold actions. A body the
// overlay hands over raw without actions (a simulation's script) is still checked by the validator.
func TestOperationIndexFollowsOverlay(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	ops, err := operations(spec, gen.ServerOverlay)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rawBodies(gen.ServerOverlay)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 {
		t.Fatal("the overlay hands no request body over raw: rawBodies does not read it")
	}
	var flowOps, rawOnly []string
	for _, op := range ops {
		switch {
		case op.flowBody:
			flowOps = append(flowOps, op.id)
		case op.hasBody && raw[spec.Paths.Find(op.path).Operations()[op.method].RequestBody.Ref]:
			rawOnly = append(rawOnly, op.id)
		}
	}
	slices.Sort(flowOps)
	want := []string{"CreateActiveflow", "CreateFlow", "SimulateActions", "UpdateFlow", "ValidateFlow"}
	if !slices.Equal(flowOps, want) {
		t.Errorf("flow bodies: got %v, want %v", flowOps, want)
	}
	if !slices.Equal(rawOnly, []string{"SimulateFlow"}) {
		t.Errorf("raw bodies without actions: got %v, want [SimulateFlow]", rawOnly)
	}
	if _, err := operations(spec, []byte("actions: [")); err == nil {
		t.Error("an overlay that does not parse must be an error")
	}
}
