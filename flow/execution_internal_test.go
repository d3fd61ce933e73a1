package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// roundTrip stores and reads back an execution in its stored format, and fails when anything did not survive.
func roundTrip(t *testing.T, x *Execution) *Execution {
	t.Helper()
	b, err := x.Encode()
	if err != nil {
		t.Fatal(err)
	}
	y, err := DecodeExecution(b)
	if err != nil {
		t.Fatal(err)
	}
	x.size, y.size = 0, 0
	if !reflect.DeepEqual(x, y) {
		t.Fatalf("the execution changed through its stored format:\n%+v\n%+v", x, y)
	}
	return y
}

const ivr = `{"actions":[
	{"id":"menu","type":"talk","option":{"text":"Press 1 for sales, 2 for support"}},
	{"type":"digits_receive","option":{"duration":5000,"length":1}},
	{"type":"branch","option":{"target_ids":{"1":"sales","2":"support"},"default_target_id":"again"}},
	{"id":"sales","type":"talk","option":{"text":"sales, ${caller}"},"next_id":"bye"},
	{"id":"support","type":"talk","option":{"text":"support"},"next_id":"bye"},
	{"id":"again","type":"goto","option":{"target_id":"menu","loop_count":2}},
	{"id":"bye","type":"hangup"}]}`

func ivrExecution(t *testing.T) (*Engine, *Execution) {
	t.Helper()
	def, rep := Parse([]byte(ivr), Limits{})
	if !rep.Valid() {
		t.Fatal(rep.Err())
	}
	for i := range def.Actions { // fixed ids, for the golden file
		def.Actions[i].ID = uuid.NewSHA1(uuid.NameSpaceURL, []byte{byte(i)})
	}
	def.Actions[3].NextID, def.Actions[4].NextID = def.Actions[6].ID, def.Actions[6].ID
	opt := func(s string) json.RawMessage { return json.RawMessage(s) }
	def.Actions[2].Option = opt(`{"default_target_id":"` + def.Actions[5].ID.String() + `","target_ids":{"1":"` +
		def.Actions[3].ID.String() + `","2":"` + def.Actions[4].ID.String() + `"}}`)
	def.Actions[5].Option = opt(`{"loop_count":2,"target_id":"` + def.Actions[0].ID.String() + `"}`)
	now := time.Date(2026, 11, 23, 8, 30, 0, 0, time.UTC)
	e := &Engine{Now: func() time.Time { return now }}
	flowID := uuid.MustParse("93993ae1-0408-4639-ad5f-1288aa8d4325")
	x := NewExecution(Origin{ActiveflowID: uuid.MustParse("6f18ae1c-ddf8-413b-9572-ad30574604ef"), FlowID: flowID, Revision: 3},
		def.Actions, map[string]string{"caller": "+15551234567"})
	return e, x
}

// TestStoredFormatRoundTrip drives the IVR to each of its endings, storing and reading the execution back
// between every two steps: nothing may be lost, and the traces must be those of an execution never stored.
func TestStoredFormatRoundTrip(t *testing.T) {
	for _, digits := range [][]string{{"1"}, {"2"}, {"9", "8", "7"}} {
		e, x := ivrExecution(t)
		_, y := ivrExecution(t)
		ctx := context.Background()
		x, err := e.Drive(ctx, x, Script{Digits: digits}, func(x *Execution) (*Execution, error) { return roundTrip(t, x), nil })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Drive(ctx, y, Script{Digits: digits}, nil); err != nil {
			t.Fatal(err)
		}
		xb, _ := x.Encode()
		yb, _ := y.Encode()
		if !bytes.Equal(xb, yb) {
			t.Errorf("digits %v: stored between steps:\n%s\nnever stored:\n%s", digits, xb, yb)
		}
	}
}

// TestStoredFormatGolden: the stored format is a contract. An execution waiting at its second menu is encoded
// exactly as testdata/execution_v1.json holds it; renaming a field must not change the rows of calls in progress.
func TestStoredFormatGolden(t *testing.T) {
	e, x := ivrExecution(t)
	ctx := context.Background()
	if _, err := e.Start(ctx, x); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"", "9"} { // talk; digits_receive 9 → branch default → goto → talk again
		if _, err := e.Next(ctx, x, RunnerReport{ActionID: x.Current.ID, Step: x.Current.Step, Variables: map[string]string{VarDigits: d}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := x.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	const golden = "testdata/execution_v1.json"
	if *update {
		if err := os.WriteFile(golden, indented.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(indented.Bytes(), want) {
		t.Errorf("the stored format changed (rerun with -update only if that is meant, and raise ExecutionVersion):\n%s", indented.Bytes())
	}
	// The golden execution decodes and runs on: the menu's goto still counts its earlier jump.
	y, err := DecodeExecution(want)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Drive(ctx, y, Script{Digits: []string{"9", "9"}}, nil); err != nil {
		t.Fatal(err)
	}
	if y.EndReason != EndHangup || y.Loops[x.Frames[0].FlowID.String()+"/"+x.Frames[0].Actions[5].ID.String()] != 2 {
		t.Errorf("after the golden state: ended %s with loops %v", y.EndReason, y.Loops)
	}
}

// TestStoredFormatWritesEveryField: every field of the format is written, empty or not, so that a reader never
// meets a missing map (an omitempty on the goto counters once made every goto of a stored execution fail).
func TestStoredFormatWritesEveryField(t *testing.T) {
	_, x := ivrExecution(t)
	b, err := x.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "frames", "variables", "loops", "current", "executed", "ended", "end_reason"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("a new execution is stored without %q: %s", k, b)
		}
	}
	if string(doc["loops"]) != "{}" || string(doc["executed"]) != "[]" {
		t.Errorf("empty collections must be stored as empty, not null: loops %s, executed %s", doc["loops"], doc["executed"])
	}
}

// TestStoredFormatVersion0: executions stored before the format had a version (no version, no steps, no loops
// when no goto had jumped) decode, get their steps, and their gotos jump.
func TestStoredFormatVersion0(t *testing.T) {
	b, err := os.ReadFile("testdata/execution_v0.json")
	if err != nil {
		t.Fatal(err)
	}
	x, err := DecodeExecution(b)
	if err != nil {
		t.Fatal(err)
	}
	if x.Version != ExecutionVersion || x.Loops == nil || x.Current == nil || x.Current.Step != len(x.Executed) {
		t.Fatalf("decoded %+v", x)
	}
	e := &Engine{}
	if _, err := e.Next(context.Background(), x, RunnerReport{ActionID: x.Current.ID, Step: x.Current.Step}); err != nil {
		t.Fatal(err)
	}
	if last := x.Executed[len(x.Executed)-2]; last.Type != TypeGoto || last.Decision.Result != "jump" {
		t.Errorf("the goto after the stored state: %+v", last)
	}
	if _, err := DecodeExecution([]byte(`{"version":99,"frames":[{"actions":[]}]}`)); err == nil {
		t.Error("a version from the future must not decode")
	}
}
