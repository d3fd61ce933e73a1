package flow_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/flowbin/flowbin/flow"
	"github.com/google/uuid"
)

func TestFetchFlow(t *testing.T) {
	sub := uuid.New()
	subActions := mustActions(t, actions(`{"type":"talk","option":{"text":"from the other flow"}}`))
	flows := func(_ context.Context, id uuid.UUID) ([]flow.Action, int, error) {
		if id == sub {
			return subActions, 7, nil
		}
		return nil, 0, flow.ErrFlowNotFound
	}
	e := &flow.Engine{Flows: flows}
	x := simulate(t, e, actions(`{"type":"answer"}`, fmt.Sprintf(`{"type":"fetch_flow","option":{"flow_id":%q}}`, sub), `{"type":"hangup"}`), nil)
	if got := trace(x); got != "answer fetch_flow:fetch talk hangup" {
		t.Fatalf("got %q", got)
	}
	if r := x.Executed[2]; r.FlowID != sub || r.Revision != 7 {
		t.Errorf("the fetched action must record its flow and revision: %+v", r)
	}
	if !strings.Contains(x.Executed[1].Decision.Reason, "revision 7") {
		t.Errorf("decision: %+v", x.Executed[1].Decision)
	}
	x = simulate(t, e, actions(fmt.Sprintf(`{"type":"fetch_flow","option":{"flow_id":%q}}`, uuid.New())), nil)
	if x.EndReason != flow.EndFetchFlowNotFound {
		t.Errorf("missing flow: ended %s", x.EndReason)
	}
}
