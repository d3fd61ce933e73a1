package flow

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
)

// AppendActions writes what json.Marshal writes for the same actions (for the options the parser renders: compact
// JSON), and reads back to the same actions.
func TestAppendActionsAsMarshal(t *testing.T) {
	lists := [][]Action{
		{},
		{{ID: uuid.MustParse("0196f0a4-5b6e-7c3d-8e9f-0a1b2c3d4e5f"), Type: TypeAnswer}},
		{
			{ID: uuid.MustParse("00000000-0000-4000-8000-00000000c001"), Type: TypeTalk,
				Option: json.RawMessage(`{"text":"Hello, ${voipbin.call.source.name}","language":"en-US"}`)},
			{ID: uuid.MustParse("ffffffff-ffff-4fff-bfff-ffffffffffff"), NextID: uuid.MustParse("00000000-0000-4000-8000-00000000c001"),
				Type: TypeGoto, Option: json.RawMessage(`{"target_id":"00000000-0000-4000-8000-00000000c001","loop_count":3}`)},
			{ID: uuid.MustParse("12345678-9abc-4def-8123-456789abcdef"), Type: Type(`odd"type<`)},
		},
	}
	for _, list := range lists {
		want, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		got := AppendActions(nil, list)
		if string(got) != string(want) {
			t.Errorf("AppendActions:\n got %s\nwant %s", got, want)
		}
		var back []Action
		if err := json.Unmarshal(got, &back); err != nil || len(back) != len(list) {
			t.Fatalf("read back %s: %v", got, err)
		}
	}
}
