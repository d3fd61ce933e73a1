package store_test

import (
	"context"
	"reflect"
	"testing"

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
