package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// memStore keeps executions as the store does in the stored format: frames by key, executed actions as rows, and
// flows' revisions by id and revision.
type memStore struct {
	flows  map[string][]Action
	frames map[int][]Action
	rows   []Executed
}

func flowKey(id uuid.UUID, rev int) string { return id.String() + "/" + strconv.Itoa(rev) }

// roundTrip stores and reads back an execution in its stored format, with its whole history, and fails when
// anything did not survive.
func roundTrip(t *testing.T, st *memStore, x *Execution) *Execution {
	t.Helper()
	b, err := x.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if st.frames == nil {
		st.frames = map[int][]Action{}
	}
	for _, f := range x.NewFrames() {
		st.frames[f.Key] = f.Actions
	}
	st.rows = append(st.rows, x.Unsaved()...)
	x.Saved()
	y, err := DecodeExecution(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := y.Resolve(func(f *Frame) ([]Action, error) {
		if f.OfFlow() {
			return st.flows[flowKey(f.FlowID, f.Revision)], nil
		}
		return st.frames[f.Key], nil
	}); err != nil {
		t.Fatal(err)
	}
	y.WithHistory(slices.Clone(st.rows))
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
		st := &memStore{flows: map[string][]Action{flowKey(x.Frames[0].FlowID, x.Frames[0].Revision): x.Frames[0].Actions}}
		x, err := e.Drive(ctx, x, Script{Digits: digits}, func(x *Execution) (*Execution, error) { return roundTrip(t, st, x), nil })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Drive(ctx, y, Script{Digits: digits}, nil); err != nil {
			t.Fatal(err)
		}
		xb, _ := json.Marshal(x)
		yb, _ := json.Marshal(y)
		if !bytes.Equal(xb, yb) {
			t.Errorf("digits %v: stored between steps:\n%s\nnever stored:\n%s", digits, xb, yb)
		}
	}
}

// TestStoredFormatGolden: the stored format is a contract. An execution waiting at its second menu is encoded
// exactly as testdata/execution_v2.json holds it (its hot state: the flow's frame by revision, no history);
// renaming a field must not change the rows of calls in progress.
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
	if len(x.NewFrames()) != 0 || len(x.Unsaved()) != 5 {
		t.Errorf("a flow's frame is stored by reference and the 5 actions run as rows: frames %+v, rows %d", x.NewFrames(), len(x.Unsaved()))
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	const golden = "testdata/execution_v2.json"
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
	if err := y.Resolve(func(f *Frame) ([]Action, error) {
		if !f.OfFlow() || f.FlowID != x.Frames[0].FlowID || f.Revision != 3 {
			t.Errorf("frame %+v: want the flow's revision 3", f)
		}
		return x.Frames[0].Actions, nil
	}); err != nil {
		t.Fatal(err)
	}
	if y.Steps != 5 || len(y.Executed) != 0 || y.Current.Step != 5 {
		t.Errorf("decoded steps %d, executed %d, current %+v: want 5, none (they are rows), step 5", y.Steps, len(y.Executed), y.Current)
	}
	if _, err := e.Drive(ctx, y, Script{Digits: []string{"9", "9"}}, nil); err != nil {
		t.Fatal(err)
	}
	if y.EndReason != EndHangup || y.Loops[x.Frames[0].FlowID.String()+"/"+x.Frames[0].Actions[5].ID.String()] != 2 {
		t.Errorf("after the golden state: ended %s with loops %v", y.EndReason, y.Loops)
	}
	if y.Executed[0].Step != 6 {
		t.Errorf("the first action after the golden state is step %d, want 6", y.Executed[0].Step)
	}
}

// TestStoredFormatVersion1: executions stored in version 1 (one document holding every frame's actions and every
// action run) decode and run on exactly as an execution never stored: at a goto loop's second pass, inside a
// fetch_flow's frame, on inline actions. Their first save under version 2 moves the history to rows and stores
// their frames' actions as lists once (what they copied, whatever the flows hold now); then they are version 2.
func TestStoredFormatVersion1(t *testing.T) {
	sub := func(ctx context.Context, id uuid.UUID) ([]Action, int, error) {
		return nil, 0, ErrFlowNotFound // a v1 state holds the fetched actions it runs: nothing is fetched again
	}
	for _, c := range []struct {
		file   string
		steps  int
		frames int
		digits []string
		end    string
		trace  string
	}{
		{"execution_v1.json", 5, 1, []string{"9", "9"}, EndHangup, "digits_receive branch goto talk digits_receive branch goto hangup"},
		{"execution_v1_fetch_flow.json", 4, 2, nil, EndHangup, "talk hangup"},
		{"execution_v1_inline.json", 4, 1, nil, EndHangup, "variable_set goto talk variable_set goto talk variable_set goto hangup"},
	} {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + c.file)
			if err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer // as version 1 wrote it
			if err := json.Compact(&compact, b); err != nil {
				t.Fatal(err)
			}
			x, err := DecodeExecution(compact.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if x.Steps != c.steps || len(x.Executed) != c.steps || x.Current == nil || x.Current.Step != c.steps {
				t.Fatalf("decoded %d steps, %d executed, current %+v; want %d", x.Steps, len(x.Executed), x.Current, c.steps)
			}
			st := &memStore{}
			y := roundTrip(t, st, x)
			if len(st.rows) != c.steps || len(st.frames) != c.frames {
				t.Errorf("the first save wrote %d rows and %d frames, want %d and %d", len(st.rows), len(st.frames), c.steps, c.frames)
			}
			e := &Engine{Flows: sub}
			ctx := context.Background()
			y, err = e.Drive(ctx, y, Script{Digits: c.digits}, func(x *Execution) (*Execution, error) { return roundTrip(t, st, x), nil })
			if err != nil {
				t.Fatal(err)
			}
			var trace []string
			for _, r := range y.Executed[c.steps:] {
				trace = append(trace, string(r.Type))
			}
			if got := strings.Join(trace, " "); got != c.trace || y.EndReason != c.end {
				t.Errorf("ran on %q ending %s, want %q ending %s", got, y.EndReason, c.trace, c.end)
			}
			for i, r := range y.Executed {
				if r.Step != i+1 {
					t.Fatalf("executed[%d] is step %d", i, r.Step)
				}
			}
		})
	}
}

// TestStoredFormatWritesEveryField: every field of the hot state is written, empty or not, so that a reader never
// meets a missing map (an omitempty on the goto counters once made every goto of a stored execution fail); and it
// holds neither the actions of a frame nor the history.
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
	for _, k := range []string{"version", "steps", "frames", "variables", "loops", "current", "ended", "end_reason"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("a new execution is stored without %q: %s", k, b)
		}
	}
	if string(doc["loops"]) != "{}" {
		t.Errorf("empty collections must be stored as empty, not null: loops %s", doc["loops"])
	}
	if _, ok := doc["executed"]; ok || bytes.Contains(doc["frames"], []byte(`"actions"`)) {
		t.Errorf("the hot state holds the history or a frame's actions: %s", b)
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
