package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/internal/enginetest"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestActiveflowStateRoundTrip runs every case of the engine's table with the execution saved to the store and
// read back between every two steps, on both dialects: the traces must be the table's, and each read must give
// back exactly the execution that was saved (put omitempty or json:"-" on a field of flow.Execution and it fails).
func TestActiveflowStateRoundTrip(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fx := newFixture(t, b)
		ctx := context.Background()
		for _, c := range enginetest.Cases(t) {
			t.Run(c.Name, func(t *testing.T) {
				var row *store.Activeflow
				between := func(x *flow.Execution) (*flow.Execution, error) {
					if row == nil {
						row = &store.Activeflow{CustomerID: fx.alice, State: store.State{Execution: *x}}
						if err := fx.st.CreateActiveflow(ctx, row); err != nil {
							return nil, err
						}
					} else {
						row.State = store.State{Execution: *x}
						if err := fx.st.SaveActiveflow(ctx, row); err != nil {
							return nil, err
						}
					}
					read, err := fx.st.GetActiveflow(ctx, fx.alice, row.ID)
					if err != nil {
						return nil, err
					}
					want, _ := x.Encode()
					got, _ := read.State.Encode()
					if string(want) != string(got) {
						t.Fatalf("saved:\n%s\nread back:\n%s", want, got)
					}
					y := &read.State.Execution
					if !reflect.DeepEqual(y.Variables, x.Variables) || !reflect.DeepEqual(y.Loops, x.Loops) ||
						!reflect.DeepEqual(y.Frames, x.Frames) || !reflect.DeepEqual(y.Current, x.Current) {
						t.Fatalf("read back another execution:\n%+v\nwant\n%+v", y, x)
					}
					row = read
					return y, nil
				}
				enginetest.Run(t, &flow.Engine{}, c, between)
			})
		}
	})
}

// TestActiveflowActionsAppend: executed actions are appended as rows and read back in the order of their steps,
// whole; a step is never written twice; the rows go when their activeflow's row is deleted.
func TestActiveflowActionsAppend(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fx := newFixture(t, b)
		ctx := context.Background()
		def := mustDefinition(t, `{"actions":[{"type":"talk","option":{"text":"a > b & c"}},{"type":"hangup"}]}`)
		x := flow.NewExecution(flow.Origin{}, def.Actions, nil)
		a := &store.Activeflow{CustomerID: fx.alice, State: store.State{Execution: *x}}
		if err := fx.st.CreateActiveflow(ctx, a); err != nil {
			t.Fatal(err)
		}
		flowID := uuid.New()
		want := []flow.Executed{
			{Action: def.Actions[1], Step: 2, TMExecute: t0.Add(time.Second)},
			{Action: def.Actions[0], Step: 1, FlowID: flowID, Revision: 3, TMExecute: t0,
				Decision: &flow.Decision{Result: "continue", Reason: "why"}},
		}
		var rows []store.ActiveflowAction
		for i := range want {
			row, err := store.NewActiveflowAction(a.ID, fx.alice, &want[i])
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, row)
		}
		if rows[1].FlowID == nil || *rows[1].FlowID != flowID || *rows[1].FlowRevision != 3 || rows[0].FlowID != nil {
			t.Errorf("flow columns: got %v/%v and %v, want %s/3 and none", rows[1].FlowID, rows[1].FlowRevision, rows[0].FlowID, flowID)
		}
		if err := fx.st.AppendActiveflowActions(ctx, rows); err != nil {
			t.Fatal(err)
		}
		got, err := fx.st.ActiveflowActions(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, []flow.Executed{want[1], want[0]}) {
			t.Errorf("got %+v\nwant steps 1 and 2 as written", got)
		}
		if err := fx.st.AppendActiveflowActions(ctx, rows[:1]); !errors.Is(err, store.ErrConflict) {
			t.Errorf("a step written twice: got %v, want ErrConflict", err)
		}
	})
}
