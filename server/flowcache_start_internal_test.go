package server

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store"
)

// A cached answer decodes back into the flow it was encoded from, whichever way the answer spells "none": absent,
// null, or VoIPbin's zero UUID.
func TestCachedAnswerDecodes(t *testing.T) {
	id, cust, next := uuid.New(), uuid.New(), uuid.New()
	f := &store.Flow{ID: id, CustomerID: cust, Name: "n", Detail: "d", Revision: 3, Actions: store.Actions{
		{ID: uuid.New(), Type: flow.TypeAnswer},
		{ID: uuid.New(), NextID: next, Type: flow.TypeTalk, Option: json.RawMessage(`{"text":"a <b> & c"}`)},
		{ID: uuid.New(), Type: flow.TypeTalk, Option: json.RawMessage(`{"text":"a backslash: \\u003c, then <"}`)},
	}}
	body, err := json.Marshal(toAPIFlow(f))
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&cachedFlow{id: id, customer: cust, body: body}).decode()
	if err != nil {
		t.Fatal(err)
	}
	a, b := flow.AppendActions(nil, got.Actions), flow.AppendActions(nil, f.Actions)
	if got.Revision != 3 || got.Name != "n" || got.OnCompleteFlowID != nil || string(a) != string(b) {
		t.Errorf("decoded %+v\nactions %s, want %s", got, a, b)
	}
	zero := []byte(`{"id":"` + id.String() + `","revision":1,"on_complete_flow_id":"00000000-0000-0000-0000-000000000000",
		"actions":[{"id":"` + next.String() + `","next_id":"00000000-0000-0000-0000-000000000000","type":"answer","option":null}]}`)
	got, err = (&cachedFlow{id: id, customer: cust, body: zero}).decode()
	if err != nil || got.OnCompleteFlowID != nil || got.Actions[0].NextID != uuid.Nil || got.Actions[0].Option != nil {
		t.Errorf("zero UUIDs and null options: %+v, %v", got, err)
	}
}
