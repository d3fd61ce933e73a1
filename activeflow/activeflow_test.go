package activeflow_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/activeflow"
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestInProcessRunner drives an activeflow as the SIP runner does, without HTTP: a start with a call as its
// reference and the runner's variables known at once, reports, a stale report, and the end of the call.
func TestInProcessRunner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		st := storetest.Open(t, b)
		u, err := st.CreateUser(ctx, "acme", "alice", "hash")
		if err != nil {
			t.Fatal(err)
		}
		svc := activeflow.New(activeflow.Config{Store: st})
		def, rep := flow.Parse([]byte(`{"name":"ivr","actions":[
			{"type":"talk","option":{"text":"Hello ${voipbin.call.source.target}"}},
			{"type":"digits_receive","option":{"duration":3000}},
			{"type":"talk","option":{"text":"You pressed ${voipbin.call.digits}"}}]}`), flow.Limits{})
		if !rep.Valid() {
			t.Fatal(rep.Errors)
		}
		f, err := st.CreateFlow(ctx, u.CustomerID, def, store.Author{})
		if err != nil {
			t.Fatal(err)
		}
		call := uuid.New()
		a, err := svc.Start(ctx, activeflow.StartRequest{CustomerID: u.CustomerID, FlowID: f.ID, ReferenceType: "call", ReferenceID: call,
			RunnerVariables: map[string]string{"voipbin.call.source.target": "+15551234", "voipbin.activeflow.id": "spoofed"},
			Variables:       map[string]string{"voipbin.call.source.target": "spoofed by a client"}})
		if err != nil {
			t.Fatal(err)
		}
		x := &a.State.Execution
		if a.ReferenceType != "call" || *a.ReferenceID != call || x.Variables[flow.VarActiveflowReferenceID] != call.String() ||
			x.Variables[flow.VarActiveflowReferenceType] != "call" || x.Variables[flow.VarActiveflowID] != a.ID.String() {
			t.Errorf("reference: %+v %v", a, x.Variables)
		}
		if got := string(x.Current.Option); got != `{"text":"Hello +15551234"}` {
			t.Errorf("first action %s", got)
		}
		first := *x.Current
		if a, err = svc.Next(ctx, u.CustomerID, a.ID, flow.RunnerReport{ActionID: first.ID, Step: first.Step}); err != nil {
			t.Fatal(err)
		}
		var stale *activeflow.StaleError
		if _, err := svc.Next(ctx, u.CustomerID, a.ID, flow.RunnerReport{ActionID: first.ID, Step: first.Step}); !errors.As(err, &stale) || stale.Current == nil {
			t.Errorf("a retried report: %v", err)
		}
		cur := a.State.Current
		if a, err = svc.Next(ctx, u.CustomerID, a.ID, flow.RunnerReport{ActionID: cur.ID, Step: cur.Step,
			Variables: map[string]string{"VOIPBIN.call.digits": "42"}}); err != nil {
			t.Fatal(err)
		}
		if got := string(a.State.Current.Option); got != `{"text":"You pressed 42"}` {
			t.Errorf("third action %s", got)
		}
		// The caller hangs up before the flow ends.
		if a, err = svc.StopFor(ctx, u.CustomerID, a.ID, flow.EndHangup); err != nil || a.Status != store.ActiveflowEnded || a.EndReason != flow.EndHangup {
			t.Fatalf("stop: %v %+v", err, a)
		}
		var ended *activeflow.EndedError
		if _, err := svc.Next(ctx, u.CustomerID, a.ID, flow.RunnerReport{ActionID: a.ID}); !errors.As(err, &ended) || ended.EndReason != flow.EndHangup {
			t.Errorf("a report after the end: %v", err)
		}
	})
}
