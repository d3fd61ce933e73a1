package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// The writes of flows on PostgreSQL run as prepared statements on pgx outside a transaction, and through GORM in
// one: both write the same rows, a transaction's writes roll back with it, and each statement has its span.
func TestPreparedFlowWrites(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	st := storetest.Open(t, storetest.Postgres, func(c *store.Config) { c.TracerProvider = tp })
	ctx := context.Background()
	cust, err := st.EnsureCustomer(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	def := mustDefinition(t, `{"name":"a","actions":[{"type":"talk","option":{"text":"a <b> & c","language":"en-US"}},{"type":"hangup"}]}`)
	f, err := st.CreateFlow(ctx, cust.ID, def, tester)
	if err != nil {
		t.Fatal(err)
	}
	def2 := mustDefinition(t, `{"name":"b","actions":[{"type":"answer"}]}`)
	up, err := st.UpdateFlow(ctx, cust.ID, f.ID, def2, tester, &store.Match{Revisions: []int{1}})
	if err != nil || up.Revision != 2 {
		t.Fatalf("update: revision %v, %v", up, err)
	}
	if _, err := st.UpdateFlow(ctx, cust.ID, f.ID, def, tester, &store.Match{Revisions: []int{1}}); !isPrecondition(err, 2) {
		t.Fatalf("update at revision 1 of a flow at 2: %v, want a precondition error", err)
	}
	same, err := st.UpdateFlow(ctx, cust.ID, f.ID, def2, tester, nil)
	if err != nil || same.Revision != 2 {
		t.Fatalf("an identical update writes nothing: %+v, %v", same, err)
	}
	got, err := st.GetFlow(ctx, cust.ID, f.ID)
	if err != nil || got.Name != "b" || got.Revision != 2 || len(got.Actions) != 1 {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	r1, err := st.GetFlowRevision(ctx, cust.ID, f.ID, 1)
	if err != nil || len(r1.Actions) != 2 || !strings.Contains(string(r1.Actions[0].Option), "a <b> & c") {
		t.Fatalf("revision 1: %+v, %v", r1, err)
	}

	var names []string
	for _, sp := range rec.Ended() {
		for _, a := range sp.Attributes() {
			if a.Key == "db.query.text" && strings.Contains(a.Value.AsString(), "INSERT INTO flow_revisions") {
				names = append(names, sp.Name())
			}
		}
	}
	if strings.Join(names, ",") != "sql INSERT,sql UPDATE,sql UPDATE,sql UPDATE" {
		t.Errorf("spans of the writes: %v", names)
	}

	// In a transaction: the same writes, through GORM, rolled back with it.
	rollback := errors.New("roll back")
	var inTx uint32
	err = st.InTx(ctx, func(ctx context.Context) error {
		g, err := st.CreateFlow(ctx, cust.ID, def, tester)
		if err != nil {
			return err
		}
		if _, err := st.UpdateFlow(ctx, cust.ID, g.ID, def2, tester, nil); err != nil {
			return err
		}
		if _, err := st.GetFlow(ctx, cust.ID, g.ID); err != nil {
			return err
		}
		inTx = g.ID.ID()
		return rollback
	})
	if !errors.Is(err, rollback) || inTx == 0 {
		t.Fatalf("transaction: %v", err)
	}
	list, err := st.ListFlows(ctx, cust.ID, store.Page{})
	if err != nil || len(list) != 1 {
		t.Fatalf("after the rollback, the customer has %d flows (%v), want 1", len(list), err)
	}
}

func isPrecondition(err error, current int) bool {
	var pe *store.PreconditionError
	return errors.As(err, &pe) && pe.Current == current
}
