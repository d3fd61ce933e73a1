package flow_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// TestFieldValidation: unknown fields are errors, warnings or nothing, as the mode says; VoIPbin's fields that
// flowbin does not use are quiet in every mode.
func TestFieldValidation(t *testing.T) {
	doc := `{"name":"f","flow_name":"x","direct_hash":"h","persist":true,"type":"flow",
		"actions":[{"type":"answer","nextid":"x","tm_execute":""}]}`
	unknown := []string{"/flow_name", "/actions/0/nextid"}
	for _, mode := range []flow.FieldValidation{flow.FieldsStrict, flow.FieldsWarn, flow.FieldsIgnore} {
		t.Run(mode.String(), func(t *testing.T) {
			def, rep := flow.Parse([]byte(doc), flow.Limits{Fields: mode})
			var got []flow.Problem
			switch mode {
			case flow.FieldsStrict:
				got = rep.Errors
				if len(rep.Warnings) != 0 {
					t.Errorf("warnings %+v, want none", rep.Warnings)
				}
			case flow.FieldsWarn:
				got = rep.Warnings
				if !rep.Valid() {
					t.Errorf("errors %+v, want none", rep.Errors)
				}
			case flow.FieldsIgnore:
				if !rep.Valid() || len(rep.Warnings) != 0 {
					t.Errorf("got %+v, want nothing at all", rep)
				}
			}
			if mode == flow.FieldsIgnore {
				return
			}
			if len(got) != len(unknown) {
				t.Fatalf("got %+v, want %v", got, unknown)
			}
			for i, ptr := range unknown {
				if got[i].Pointer != ptr || got[i].Reason != flow.ReasonUnknownField {
					t.Errorf("problem %d: got %+v, want UNKNOWN_FIELD at %s", i, got[i], ptr)
				}
			}
			if mode == flow.FieldsWarn && (def.Name != "f" || len(def.Actions) != 1 || def.Actions[0].Type != flow.TypeAnswer) {
				t.Errorf("the rest of the definition must be kept: %+v", def)
			}
		})
	}
	if m, err := flow.ParseFieldValidation("warn"); err != nil || m != flow.FieldsWarn {
		t.Errorf("ParseFieldValidation(warn) = %v, %v", m, err)
	}
	if _, err := flow.ParseFieldValidation("lenient"); err == nil {
		t.Errorf("ParseFieldValidation(lenient) must fail")
	}
}

// TestFieldValidationStart: the body of an activeflow start follows the mode too.
func TestFieldValidationStart(t *testing.T) {
	doc := `{"actions":[{"type":"answer"}],"webhook_uri":"https://example.com/hook","reference_type":"call"}`
	_, rep, err := flow.ParseStart(context.Background(), []byte(doc), flow.Limits{Fields: flow.FieldsWarn}, flow.StartActiveflow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid() || len(rep.Warnings) != 1 || rep.Warnings[0].Pointer != "/reference_type" {
		t.Errorf("Warn: got %+v", rep)
	}
	_, rep, _ = flow.ParseStart(context.Background(), []byte(doc), flow.Limits{}, flow.StartActiveflow, nil)
	if rep.Valid() || rep.Errors[0].Reason != flow.ReasonUnknownField {
		t.Errorf("Strict: got %+v", rep)
	}
}

// TestLabelIDs: labels get ids derived from the flow and the label, the same in every parse, with references
// rewritten; UUIDs are kept; nested lists derive theirs from the call action.
func TestLabelIDs(t *testing.T) {
	ns := uuid.MustParse("0190b7c4-6a5e-7c1e-9f51-2a3b4c5d6e7f")
	const given = "b34aa8a4-0b30-11eb-8016-1f5bc75b1c04"
	doc := actions(
		`{"id":"greet","type":"talk","option":{"text":"hi"}}`,
		`{"id":"`+given+`","type":"goto","option":{"target_id":"greet","loop_count":1}}`,
		`{"id":"dial","type":"call","option":{"destinations":[{"type":"tel","target":"+1"}],"actions":[{"id":"in","type":"answer","next_id":"in2"},{"id":"in2","type":"hangup"}]}}`,
		`{"type":"hangup"}`)
	parse := func(ns uuid.UUID) *flow.Definition {
		t.Helper()
		def, rep := flow.Parse([]byte(doc), flow.Limits{Namespace: ns})
		if !rep.Valid() {
			t.Fatal(rep.Err())
		}
		return def
	}
	a, b := parse(ns), parse(ns)
	greet, dial := flow.LabelID(ns, "greet"), flow.LabelID(ns, "dial")
	if a.Actions[0].ID != greet || b.Actions[0].ID != greet || greet.Version() != 5 {
		t.Errorf("label id: got %s and %s, want the UUIDv5 %s", a.Actions[0].ID, b.Actions[0].ID, greet)
	}
	if a.Actions[1].ID.String() != given {
		t.Errorf("a client's UUID must be kept: got %s", a.Actions[1].ID)
	}
	if got, want := string(a.Actions[1].Option), fmt.Sprintf(`{"target_id":%q,"loop_count":1}`, greet); got != want {
		t.Errorf("reference to a label: got %s, want %s", got, want)
	}
	if a.Actions[2].ID != dial {
		t.Errorf("call action: got %s, want %s", a.Actions[2].ID, dial)
	}
	in, in2 := flow.LabelID(dial, "in"), flow.LabelID(dial, "in2")
	want := fmt.Sprintf(`"actions":[{"id":%q,"name":"in","next_id":%q,"type":"answer"},{"id":%q,"name":"in2","type":"hangup"}]`, in, in2, in2)
	if got := string(a.Actions[2].Option); !strings.Contains(got, want) || string(b.Actions[2].Option) != got {
		t.Errorf("nested labels: got %s, want %s", got, want)
	}
	if a.Actions[3].ID == b.Actions[3].ID || a.Actions[3].ID.Version() == 5 {
		t.Errorf("an action without id gets a fresh id each time: got %s twice", a.Actions[3].ID)
	}
	if other := parse(uuid.New()); other.Actions[0].ID == greet {
		t.Errorf("another flow's label must get another id")
	}
	if none := parse(uuid.Nil); none.Actions[0].ID == parse(uuid.Nil).Actions[0].ID {
		t.Errorf("without a namespace, labels get fresh ids")
	}

	// A label whose derived id a client's UUID already holds (a flow read back, and the label written anew).
	clash := actions(`{"id":"`+greet.String()+`","type":"answer"}`, `{"id":"greet","type":"hangup"}`)
	_, rep := flow.Parse([]byte(clash), flow.Limits{Namespace: ns})
	if rep.Valid() || rep.Errors[0].Reason != flow.ReasonDuplicateActionID || rep.Errors[0].Pointer != "/actions/1/id" {
		t.Errorf("clash: got %+v", rep.Errors)
	}
}
