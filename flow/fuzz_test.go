package flow_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowbin/flowbin/flow"
)

// FuzzParse: no input makes Parse panic; every problem is well-formed; a valid definition, written back as the
// API answers it, parses again to the same actions (normalisation is idempotent).
// The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"name":"n","actions":[{"type":"answer"},{"type":"talk","option":{"text":"hi"}}]}`))
	f.Add([]byte(`{"actions":[{"id":"a","type":"goto","option":{"target_id":"a","loop_count":2}}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		def, rep := flow.Parse(doc, flow.Limits{MaxActions: 50})
		for _, p := range append(append([]flow.Problem{}, rep.Errors...), rep.Warnings...) {
			if p.Reason == "" || p.Message == "" || (p.Pointer != "" && !strings.HasPrefix(p.Pointer, "/")) {
				t.Fatalf("malformed problem %+v", p)
			}
		}
		if len(rep.Errors) > flow.MaxProblems {
			t.Fatalf("%d errors, more than the cap", len(rep.Errors))
		}
		if !rep.Valid() {
			return
		}
		again, err := json.Marshal(map[string]any{"name": def.Name, "detail": def.Detail, "actions": def.Actions})
		if err != nil {
			t.Fatalf("valid definition does not encode: %v", err)
		}
		def2, rep2 := flow.Parse(again, flow.Limits{MaxActions: 50})
		if !rep2.Valid() {
			t.Fatalf("written back, a valid definition becomes invalid: %s: %+v", again, rep2.Errors)
		}
		a, _ := json.Marshal(def.Actions)
		b, _ := json.Marshal(def2.Actions)
		if string(a) != string(b) {
			t.Fatalf("not idempotent:\n%s\n%s", a, b)
		}
	})
}
