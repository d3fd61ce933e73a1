package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

func actions(list ...string) string {
	return `{"name":"f","actions":[` + strings.Join(list, ",") + `]}`
}

// TestRules gives, for each rule, a definition that breaks it, and the reason and pointer of the answer.
func TestRules(t *testing.T) {
	const id1 = "11111111-1111-4111-8111-111111111111"
	cases := []struct {
		name, doc, reason, pointer string
	}{
		{"not JSON", `{"name":`, flow.ReasonInvalidJSON, ""},
		{"empty", ``, flow.ReasonInvalidJSON, ""},
		{"not an object", `[1]`, flow.ReasonInvalidBody, ""},
		{"unknown field", `{"flow_name":"x"}`, flow.ReasonUnknownField, "/flow_name"},
		{"name not a string", `{"name":[]}`, flow.ReasonInvalidField, "/name"},
		{"name too long", `{"name":"` + strings.Repeat("é", 256) + `"}`, flow.ReasonInvalidField, "/name"},
		{"detail too long", `{"detail":"` + strings.Repeat("d", 4097) + `"}`, flow.ReasonInvalidField, "/detail"},
		{"on_complete_flow_id not a UUID", `{"on_complete_flow_id":"main"}`, flow.ReasonInvalidField, "/on_complete_flow_id"},
		{"actions not an array", `{"actions":"answer"}`, flow.ReasonInvalidField, "/actions"},
		{"action not an object", actions(`"answer"`), flow.ReasonInvalidAction, "/actions/0"},
		{"unknown action field", actions(`{"type":"answer","nextid":"x"}`), flow.ReasonUnknownField, "/actions/0/nextid"},
		{"missing type", actions(`{"option":{}}`), flow.ReasonInvalidActionType, "/actions/0/type"},
		{"type not a string", actions(`{"type":7}`), flow.ReasonInvalidActionType, "/actions/0/type"},
		{"unknown type", actions(`{"type":"answer"}`, `{"type":"tlak"}`), flow.ReasonInvalidActionType, "/actions/1/type"},
		{"type in another case", actions(`{"type":"Answer"}`), flow.ReasonInvalidActionType, "/actions/0/type"},
		{"option not an object", actions(`{"type":"answer","option":"now"}`), flow.ReasonInvalidActionOption, "/actions/0/option"},
		{"loop_count wrong type", actions(`{"id":"a","type":"answer"}`, `{"type":"answer"}`, `{"type":"goto","option":{"target_id":"a","loop_count":"3"}}`),
			flow.ReasonInvalidActionOption, "/actions/2/option/loop_count"},
		{"loop_count out of range", actions(`{"id":"a","type":"answer"}`, `{"type":"answer"}`, `{"type":"goto","option":{"target_id":"a","loop_count":5000}}`),
			flow.ReasonInvalidActionOption, "/actions/2/option/loop_count"},
		{"loop_count negative", actions(`{"id":"a","type":"goto","option":{"target_id":"a","loop_count":-1}}`), flow.ReasonInvalidActionOption, "/actions/0/option/loop_count"},
		{"loop_count fraction", actions(`{"id":"a","type":"goto","option":{"target_id":"a","loop_count":1.5}}`), flow.ReasonInvalidActionOption, "/actions/0/option/loop_count"},
		{"integer overflow", actions(`{"type":"sleep","option":{"duration":99999999999999999999}}`), flow.ReasonInvalidActionOption, "/actions/0/option/duration"},
		{"duration negative", actions(`{"type":"echo","option":{"duration":-5}}`), flow.ReasonInvalidActionOption, "/actions/0/option/duration"},
		{"hour out of range", actions(`{"type":"condition_datetime","option":{"condition":">=","hour":24}}`), flow.ReasonInvalidActionOption, "/actions/0/option/hour"},
		{"weekday out of range", actions(`{"type":"condition_datetime","option":{"condition":"==","weekdays":[1,7]}}`), flow.ReasonInvalidActionOption, "/actions/0/option/weekdays/1"},
		{"enum", actions(`{"type":"amd","option":{"machine_handle":"ignore"}}`), flow.ReasonInvalidActionOption, "/actions/0/option/machine_handle"},
		{"condition enum", actions(`{"type":"condition_variable","option":{"condition":"=~","variable":"v"}}`), flow.ReasonInvalidActionOption, "/actions/0/option/condition"},
		{"pattern", actions(`{"type":"digits_send","option":{"digits":"12x"}}`), flow.ReasonInvalidActionOption, "/actions/0/option/digits"},
		{"required option missing", actions(`{"type":"talk","option":{"language":"en-US"}}`), flow.ReasonInvalidActionOption, "/actions/0/option/text"},
		{"required option with no option at all", actions(`{"type":"queue_join"}`), flow.ReasonInvalidActionOption, "/actions/0/option/queue_id"},
		{"one of two names needed", actions(`{"type":"play","option":{}}`), flow.ReasonInvalidActionOption, "/actions/0/option/stream_urls"},
		{"empty list", actions(`{"type":"play","option":{"stream_urls":[]}}`), flow.ReasonInvalidActionOption, "/actions/0/option/stream_urls"},
		{"not a URL", actions(`{"type":"webhook_send","option":{"uri":"example.com/hook"}}`), flow.ReasonInvalidActionOption, "/actions/0/option/uri"},
		{"URL list item", actions(`{"type":"play","option":{"stream_urls":["https://a/x.wav","ftp://b/y.wav"]}}`), flow.ReasonInvalidActionOption, "/actions/0/option/stream_urls/1"},
		{"address without target", actions(`{"type":"connect","option":{"destinations":[{"type":"tel"}]}}`), flow.ReasonInvalidActionOption, "/actions/0/option/destinations/0/target"},
		{"external id not a UUID", actions(`{"type":"queue_join","option":{"queue_id":"sales"}}`), flow.ReasonInvalidActionOption, "/actions/0/option/queue_id"},
		{"flow id not a UUID", actions(`{"type":"fetch_flow","option":{"flow_id":"main"}}`), flow.ReasonInvalidActionOption, "/actions/0/option/flow_id"},
		{"bool", actions(`{"type":"talk","option":{"text":"hi","async":"yes"}}`), flow.ReasonInvalidActionOption, "/actions/0/option/async"},
		{"duplicate UUID", actions(`{"id":"`+id1+`","type":"answer"}`, `{"id":"`+id1+`","type":"answer"}`), flow.ReasonDuplicateActionID, "/actions/1/id"},
		{"duplicate label", actions(`{"id":"x","type":"answer"}`, `{"id":"x","type":"answer"}`), flow.ReasonDuplicateActionID, "/actions/1/id"},
		{"id not a string", actions(`{"id":7,"type":"answer"}`), flow.ReasonInvalidField, "/actions/0/id"},
		{"goto to a missing label", actions(`{"type":"goto","option":{"target_id":"nowhere","loop_count":1}}`), flow.ReasonInvalidActionTarget, "/actions/0/option/target_id"},
		{"goto to a missing UUID", actions(`{"type":"goto","option":{"target_id":"` + id1 + `","loop_count":1}}`), flow.ReasonInvalidActionTarget, "/actions/0/option/target_id"},
		{"next_id to nowhere", actions(`{"type":"answer","next_id":"end"}`), flow.ReasonInvalidActionTarget, "/actions/0/next_id"},
		{"branch value to nowhere", actions(`{"id":"a","type":"branch","option":{"target_ids":{"1":"a","2/x":"b"},"default_target_id":"a"}}`), flow.ReasonInvalidActionTarget, "/actions/0/option/target_ids/2~1x"},
		{"branch default to nowhere", actions(`{"type":"branch","option":{"default_target_id":"b"}}`), flow.ReasonInvalidActionTarget, "/actions/0/option/default_target_id"},
		{"false target to nowhere", actions(`{"type":"condition_call_digits","option":{"length":1,"false_target_id":"b"}}`), flow.ReasonInvalidActionTarget, "/actions/0/option/false_target_id"},
		{"nested action list", actions(`{"type":"call","option":{"destinations":[{"type":"tel","target":"+1"}],"actions":[{"type":"answer"},{"type":"tlak"}]}}`),
			flow.ReasonInvalidActionType, "/actions/0/option/actions/1/type"},
		{"nested labels are their own", actions(`{"id":"outer","type":"answer"}`, `{"type":"call","option":{"destinations":[{"type":"tel","target":"+1"}],"actions":[{"type":"goto","option":{"target_id":"outer"}}]}}`),
			flow.ReasonInvalidActionTarget, "/actions/1/option/actions/0/option/target_id"},
		{"duplicate key", `{"name":"a","actions":[{"type":"answer","type":"hangup"}]}`, flow.ReasonDuplicateKey, "/actions/0/type"},
		{"NUL in an option", actions(`{"type":"talk","option":{"text":"a\u0000"}}`), flow.ReasonInvalidString, "/actions/0/option/text"},
		{"unpaired surrogate in an unknown key", actions(`{"type":"talk","option":{"text":"a","x":"\udc00"}}`), flow.ReasonInvalidString, "/actions/0/option/x"},
		{"too deep", `{"actions":[{"type":"answer","option":` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `}]}`, flow.ReasonInvalidJSON, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, rep := flow.Parse([]byte(c.doc), flow.Limits{})
			if rep.Valid() {
				t.Fatalf("accepted %s", c.doc)
			}
			got := rep.Errors[0]
			if got.Reason != c.reason || got.Pointer != c.pointer {
				t.Errorf("got %s at %q (%s), want %s at %q; all: %+v", got.Reason, got.Pointer, got.Message, c.reason, c.pointer, rep.Errors)
			}
			if got.Message == "" {
				t.Errorf("no message")
			}
			if rep.Err() == nil {
				t.Errorf("Err() is nil for an invalid report")
			}
		})
	}
}

// TestFiveProblems: a flow with five different problems gets all five back, in document order.
func TestFiveProblems(t *testing.T) {
	missing := uuid.NewString()
	doc := `{
		"name": "five problems",
		"actions": [
			{"id": "start", "type": "answer"},
			{"type": "tlak", "option": {"text": "hi"}},
			{"type": "goto", "option": {"target_id": "start", "loop_count": 9999}},
			{"id": "start", "type": "hangup"},
			{"type": "goto", "option": {"target_id": "nowhere", "loop_count": 1}}
		],
		"on_complete_flow_id": "` + missing + `"
	}`
	live := func(_ context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error) { return map[uuid.UUID]bool{}, nil }
	_, rep, err := flow.Validate(context.Background(), []byte(doc), flow.Limits{}, live)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ reason, pointer string }{
		{flow.ReasonInvalidActionType, "/actions/1/type"},
		{flow.ReasonInvalidActionOption, "/actions/2/option/loop_count"},
		{flow.ReasonDuplicateActionID, "/actions/3/id"},
		{flow.ReasonInvalidActionTarget, "/actions/4/option/target_id"},
		{flow.ReasonInvalidFlowReference, "/on_complete_flow_id"},
	}
	if len(rep.Errors) != len(want) {
		t.Fatalf("got %d errors, want %d: %+v", len(rep.Errors), len(want), rep.Errors)
	}
	for i, w := range want {
		if got := rep.Errors[i]; got.Reason != w.reason || got.Pointer != w.pointer {
			t.Errorf("error %d: got %s at %s, want %s at %s", i, got.Reason, got.Pointer, w.reason, w.pointer)
		}
	}
	var inv *flow.InvalidError
	if !errors.As(rep.Err(), &inv) || len(inv.Problems) != 5 {
		t.Errorf("Err(): got %v", rep.Err())
	}
}

func TestProblemsAreCapped(t *testing.T) {
	var list []string
	for i := 0; i < 300; i++ {
		list = append(list, `{"type":"nope"}`)
	}
	_, rep := flow.Parse([]byte(actions(list...)), flow.Limits{})
	if len(rep.Errors) != flow.MaxProblems || rep.Errors[0].Pointer != "/actions/0/type" {
		t.Errorf("got %d errors starting at %q, want the first %d", len(rep.Errors), rep.Errors[0].Pointer, flow.MaxProblems)
	}
}

func TestActionLimit(t *testing.T) {
	list := func(n int) string {
		var l []string
		for i := 0; i < n; i++ {
			l = append(l, `{"type":"answer"}`)
		}
		return actions(l...)
	}
	if _, rep := flow.Parse([]byte(list(1000)), flow.Limits{}); !rep.Valid() {
		t.Errorf("1000 actions: %v", rep.Err())
	}
	_, rep := flow.Parse([]byte(list(1001)), flow.Limits{})
	if rep.Valid() || rep.Errors[0].Reason != flow.ReasonTooManyActions || rep.Errors[0].Pointer != "/actions" {
		t.Errorf("1001 actions: got %+v, want TOO_MANY_ACTIONS at /actions", rep.Errors)
	}
	if _, rep := flow.Parse([]byte(list(6)), flow.Limits{MaxActions: 5}); rep.Valid() {
		t.Errorf("a configured limit of 5 accepts 6 actions")
	}
}

func TestWarnings(t *testing.T) {
	cases := []struct{ name, doc, reason, pointer string }{
		{"unreachable", actions(`{"type":"answer"}`, `{"type":"stop"}`, `{"type":"talk","option":{"text":"never"}}`), flow.WarnUnreachableAction, "/actions/2"},
		{"unreachable after hangup", actions(`{"type":"hangup"}`, `{"type":"answer"}`), flow.WarnUnreachableAction, "/actions/1"},
		{"skipped by next_id", actions(`{"id":"a","type":"answer","next_id":"c"}`, `{"type":"beep"}`, `{"id":"c","type":"hangup"}`), flow.WarnUnreachableAction, "/actions/1"},
		{"goto without loop_count", actions(`{"id":"a","type":"answer"}`, `{"type":"goto","option":{"target_id":"a"}}`), flow.WarnGotoWithoutLoop, "/actions/1/option/loop_count"},
		{"branch without default", actions(`{"id":"a","type":"branch","option":{"target_ids":{"1":"a"}}}`), flow.WarnBranchNoDefault, "/actions/0/option/default_target_id"},
		{"unknown option key", actions(`{"type":"talk","option":{"text":"hi","gender":"female"}}`), flow.WarnUnknownOptionKey, "/actions/0/option/gender"},
		{"condition_variable without value_type", actions(`{"type":"condition_variable","option":{"variable":"x","condition":"==","value_string":"1"}}`, `{"type":"hangup"}`),
			flow.WarnConditionNoValueType, "/actions/0/option/value_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			def, rep := flow.Parse([]byte(c.doc), flow.Limits{})
			if !rep.Valid() {
				t.Fatalf("warnings must not block saving: %+v", rep.Errors)
			}
			if len(rep.Warnings) != 1 || rep.Warnings[0].Reason != c.reason || rep.Warnings[0].Pointer != c.pointer {
				t.Errorf("got %+v, want one %s at %s", rep.Warnings, c.reason, c.pointer)
			}
			if c.reason == flow.WarnUnknownOptionKey && !strings.Contains(string(def.Actions[0].Option), `"gender":"female"`) {
				t.Errorf("an unknown key must be kept verbatim: %s", def.Actions[0].Option)
			}
		})
	}
	// A jump back makes earlier actions reachable: no warning.
	_, rep := flow.Parse([]byte(actions(`{"type":"goto","option":{"target_id":"b","loop_count":1}}`, `{"id":"a","type":"stop"}`, `{"id":"b","type":"goto","option":{"target_id":"a","loop_count":1}}`)), flow.Limits{})
	if len(rep.Warnings) != 0 {
		t.Errorf("got %+v, want no warnings", rep.Warnings)
	}
}

// TestLenient: what real VoIPbin clients send is accepted.
func TestLenient(t *testing.T) {
	const given = "b34aa8a4-0b30-11eb-8016-1f5bc75b1c04"
	doc := `{
		"id": "decc2634-0b2a-11eb-b38d-87a8f1051188", "customer_id": "x", "type": "flow",
		"tm_create": "2020-10-11 01:00:00.000001", "tm_update": "", "tm_delete": "",
		"name": "lenient", "detail": null, "on_complete_flow_id": "",
		"actions": [
			{"type": "answer"},
			{"id": "", "type": "play", "next_id": "", "option": {"stream_url": ["https://example.com/a.wav"]}},
			{"id": "` + strings.ToUpper(given) + `", "type": "echo", "next_id": "00000000-0000-0000-0000-000000000000", "tm_execute": "2020-10-11 01:00:00.000001"},
			{"id": "00000000-0000-0000-0000-000000000000", "type": "goto", "option": {"target_id": "` + given + `", "loop_count": 1}},
			{"id": "later", "type": "talk", "option": {"text": "${voipbin.call.source.target}", "language": "en-US"}},
			{"type": "queue_join", "option": {"queue_id": "${queue}"}},
			{"type": "webhook_send", "option": {"uri": "${hook}", "method": "POST", "data": "{\"a\":1}"}},
			{"type": "hangup", "option": null}
		]
	}`
	def, rep := flow.Parse([]byte(doc), flow.Limits{})
	if !rep.Valid() {
		t.Fatalf("rejected: %+v", rep.Errors)
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings: %+v", rep.Warnings)
	}
	seen := map[uuid.UUID]bool{}
	for i, a := range def.Actions {
		if a.ID == uuid.Nil || seen[a.ID] {
			t.Errorf("action %d: id %s must be fresh and unique", i, a.ID)
		}
		seen[a.ID] = true
		if a.NextID != uuid.Nil {
			t.Errorf("action %d: next_id %s, want none", i, a.NextID)
		}
	}
	if def.Actions[2].ID.String() != given {
		t.Errorf("a client's UUID (in upper case) must be kept: got %s", def.Actions[2].ID)
	}
	if got := string(def.Actions[3].Option); got != `{"target_id":"`+given+`","loop_count":1}` {
		t.Errorf("goto option: got %s", got)
	}
	if def.Actions[7].Option != nil {
		t.Errorf("a null option is no option: got %s", def.Actions[7].Option)
	}
	if def.Name != "lenient" || def.Detail != "" || def.OnCompleteFlowID != uuid.Nil {
		t.Errorf("definition: %+v", def)
	}
}

// TestOptionsVerbatim: options are stored as sent (compacted), labels aside: unknown keys, number spellings and
// key order survive.
func TestOptionsVerbatim(t *testing.T) {
	doc := actions(`{"id":"x","type":"talk","option":{ "text" : "hi", "z_legacy": 1.50, "nested": {"b":[1, 2e3], "a": null}, "language":"en-US" }}`,
		`{"type":"goto","option":{"loop_count":2,"target_id":"x","note":"back"}}`)
	def, rep := flow.Parse([]byte(doc), flow.Limits{})
	if !rep.Valid() {
		t.Fatal(rep.Err())
	}
	if got, want := string(def.Actions[0].Option), `{"text":"hi","z_legacy":1.50,"nested":{"b":[1,2e3],"a":null},"language":"en-US"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got, want := string(def.Actions[1].Option), fmt.Sprintf(`{"loop_count":2,"target_id":%q,"note":"back"}`, def.Actions[0].ID); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestValidateChecksFlowReferences(t *testing.T) {
	known, unknown := uuid.New(), uuid.New()
	var asked []uuid.UUID
	live := func(_ context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
		asked = ids
		return map[uuid.UUID]bool{known: true}, nil
	}
	doc := fmt.Sprintf(`{"on_complete_flow_id":%q,"actions":[
		{"type":"fetch_flow","option":{"flow_id":%q}},
		{"type":"recording_start","option":{"on_end_flow_id":%q}},
		{"type":"transcribe_start","option":{"on_end_flow_id":"${flow}"}}]}`, known, unknown, known)
	_, rep, err := flow.Validate(context.Background(), []byte(doc), flow.Limits{}, live)
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 2 {
		t.Errorf("looked up %v, want the 2 distinct ids", asked)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Pointer != "/actions/0/option/flow_id" || rep.Errors[0].Reason != flow.ReasonInvalidFlowReference {
		t.Errorf("got %+v", rep.Errors)
	}
	failing := func(context.Context, []uuid.UUID) (map[uuid.UUID]bool, error) { return nil, errors.New("down") }
	if _, _, err := flow.Validate(context.Background(), []byte(doc), flow.Limits{}, failing); err == nil {
		t.Errorf("a failing lookup must be an error, not a report")
	}
}

func TestEdges(t *testing.T) {
	doc := actions(
		`{"id":"a","type":"digits_receive"}`,
		`{"type":"branch","option":{"target_ids":{"1":"c","2":"d"},"default_target_id":"a"}}`,
		`{"id":"c","type":"condition_variable","option":{"condition":"==","variable":"x","false_target_id":"d"}}`,
		`{"id":"d","type":"goto","option":{"target_id":"a","loop_count":1}}`,
		`{"type":"hangup"}`)
	def, rep := flow.Parse([]byte(doc), flow.Limits{})
	if !rep.Valid() {
		t.Fatal(rep.Err())
	}
	got := map[string]bool{}
	for _, e := range flow.Edges(def.Actions) {
		got[fmt.Sprintf("%d>%d %s %s", e.From, e.To, e.Kind, e.Label)] = true
	}
	for _, want := range []string{"0>1 next ", "1>2 branch 1", "1>3 branch 2", "1>0 default ", "2>3 true ", "2>3 false ",
		"3>0 goto ", "3>4 next "} {
		if !got[want] {
			t.Errorf("missing edge %q; got %v", want, got)
		}
	}
	if len(got) != 8 {
		t.Errorf("got %d edges, want 8: %v", len(got), got)
	}
}

func TestActionJSON(t *testing.T) {
	a := flow.Action{ID: uuid.MustParse("9461bda1-54fd-4e27-ab04-4186c6f72830"), Type: flow.TypeAnswer}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"id":"9461bda1-54fd-4e27-ab04-4186c6f72830","type":"answer"}` {
		t.Errorf("got %s", b)
	}
}
