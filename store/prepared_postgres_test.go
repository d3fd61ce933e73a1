package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/flowbin/flowbin/flow"
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

// TestPreparedActiveflowColumns: an activeflow written and read on pgx (outside a transaction) is the one GORM
// writes and reads (inside one), field for field; and every field is read, so a field added to Activeflow and not
// to the statements of prepared_postgres.go fails here.
func TestPreparedActiveflowColumns(t *testing.T) {
	st := storetest.Open(t, storetest.Postgres)
	ctx := context.Background()
	cust, err := st.EnsureCustomer(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	f := mustCreateFlow(t, st, cust.ID, "f")
	rev, other := f.Revision, uuid.MustParse("0196f0a4-5b6e-7c3d-8e9f-0a1b2c3d4e5f")
	newActiveflow := func() *store.Activeflow {
		x := flow.NewExecution(flow.Origin{FlowID: f.ID, Revision: rev}, f.Actions, map[string]string{"k": "v"})
		return &store.Activeflow{CustomerID: cust.ID, FlowID: &f.ID, FlowRevision: &rev, State: store.State{Execution: *x},
			WebhookURI: "https://example.com/hook", WebhookMethod: "PUT", OnCompleteFlowID: &other,
			OnCompleteActiveflowID: &other, OnCompleteError: "none", ReferenceActiveflowID: &other, CompleteCount: 2,
			ReferenceType: "call", ReferenceID: &other}
	}
	write := func(ctx context.Context, a *store.Activeflow) {
		t.Helper()
		if err := st.CreateActiveflow(ctx, a); err != nil {
			t.Fatal(err)
		}
		a.State.Stop()
		if err := st.SaveActiveflow(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	onPgx := newActiveflow()
	write(ctx, onPgx)
	var onGORM *store.Activeflow
	err = st.InTx(ctx, func(ctx context.Context) error {
		onGORM = newActiveflow()
		write(ctx, onGORM)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*store.Activeflow{onPgx, onGORM} { // a claim commits on its own, outside any transaction
		if err := st.ClaimActiveflow(ctx, a, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []*store.Activeflow{onPgx, onGORM} {
		viaPgx, err := st.GetActiveflow(ctx, cust.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var viaGORM *store.Activeflow
		if err := st.InTx(ctx, func(ctx context.Context) error {
			viaGORM, err = st.GetActiveflow(ctx, cust.ID, a.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// As JSON: the same instants in UTC, whichever *time.Location each driver path gives them.
		x, _ := json.Marshal(viaPgx)
		y, _ := json.Marshal(viaGORM)
		if string(x) != string(y) {
			t.Errorf("read on pgx:\n%s\nread by GORM:\n%s", x, y)
		}
		v := reflect.ValueOf(*viaPgx)
		for i := range v.NumField() {
			name := v.Type().Field(i).Name
			if v.Type().Field(i).IsExported() && name != "TMDelete" && v.Field(i).IsZero() {
				t.Errorf("%s was not read (or not written)", name)
			}
		}
		if viaPgx.Status != store.ActiveflowEnded || viaPgx.Version != 3 || viaPgx.State.EndReason != flow.EndStopped {
			t.Errorf("read back: %+v", viaPgx)
		}
	}
}
