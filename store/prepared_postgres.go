package store

// The hot statements on PostgreSQL, run on the pool's own pgx connection as prepared statements.
//
// GORM stays the store's ORM: it maps every table, builds the lists' keyset pages, the migrations' checks and the
// dozens of cold statements, and SQLite and PostgreSQL share that code. But on the statements that every write of
// a flow or every step of a call runs, the profiles of `make bench` put a quarter of flowbin's CPU in GORM and
// database/sql around pgx: the statement's reflection and callbacks, named parameters rewritten on every call, each
// parameter converted to a driver.Value and then to text, and the row scanned through reflection. These statements
// skip that: each is prepared once per connection (pgx remembers it by name), its parameters are sent in binary,
// and its row is scanned into plain variables. They run on a connection of the same pool (database/sql's Conn.Raw
// hands out the *pgx.Conn under it), so the pool's bound, settings (flowbin.writer) and statistics stay one.
//
// Inside a transaction of the caller's (Store.InTx: an Idempotency-Key's request), a statement must run on that
// transaction's connection, which database/sql does not hand out: there the same SQL runs through GORM, as before.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// pgStatement is a statement prepared once on each connection that runs it, by its name.
type pgStatement struct {
	name string
	op   string // for the span: INSERT, UPDATE, SELECT
	sql  string
}

// inTx reports whether ctx carries a transaction of the store's (InTx).
func inTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*txState)
	return ok
}

// onPgx runs fn with one of the pool's connections, as pgx's own connection, and the statement prepared on it. It
// answers false, without running fn, on SQLite or inside a transaction of ctx: the caller then runs the statement
// through GORM.
func (s *Store) onPgx(ctx context.Context, st pgStatement, fn func(c *pgx.Conn) error) (bool, error) {
	if s.dialect != Postgres || inTx(ctx) {
		return false, nil
	}
	if s.tracer != nil {
		var span trace.Span
		ctx, span = s.tracer.Start(ctx, "sql "+st.op, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system.name", "postgresql"),
				attribute.String("db.query.text", truncateSQL(st.sql))))
		defer span.End()
		defer func() {
			if err := recover(); err != nil {
				span.SetStatus(codes.Error, "panic")
				panic(err)
			}
		}()
		err := s.runPgx(ctx, st, fn)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			span.RecordError(err)
			span.SetStatus(codes.Error, "query failed")
		}
		return true, err
	}
	return true, s.runPgx(ctx, st, fn)
}

func (s *Store) runPgx(ctx context.Context, st pgStatement, fn func(c *pgx.Conn) error) error {
	conn, err := s.sqlDB.Conn(ctx)
	if err != nil {
		return classify(err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: the PostgreSQL pool's connection is a %T, not pgx's", dc)
		}
		c := sc.Conn()
		// Prepare is a map lookup once the connection has the statement: only its first use on a connection
		// costs a round trip (Parse and Describe).
		if _, err := c.Prepare(ctx, st.name, st.sql); err != nil {
			return classify(err)
		}
		return fn(c)
	})
}

func truncateSQL(sql string) string {
	if len(sql) > maxTracedSQL {
		return sql[:maxTracedSQL]
	}
	return sql
}

// The statements of flows. Each is the statement of the GORM path next to it in flows.go, with positional
// parameters.
var (
	pgCreateFlow = pgStatement{name: "flowbin_create_flow", op: "INSERT", sql: `WITH f AS (
    INSERT INTO flows (id, customer_id, name, detail, actions, on_complete_flow_id, revision, tm_create)
    VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
    RETURNING id, revision, customer_id, name, detail, actions, on_complete_flow_id, tm_create
)
INSERT INTO flow_revisions (flow_id, revision, customer_id, name, detail, actions, on_complete_flow_id,
                            author_type, author_id, author_name, tm_create)
SELECT id, revision, customer_id, name, detail, actions, on_complete_flow_id, $8, $9, $10, tm_create FROM f`}

	pgUpdateFlow = pgStatement{name: "flowbin_update_flow", op: "UPDATE", sql: `WITH f AS (
    UPDATE flows
    SET name = $3, detail = $4, actions = $5, on_complete_flow_id = $6,
        revision = revision + 1, tm_update = $7
    WHERE id = $1 AND customer_id = $2 AND tm_delete IS NULL
      AND ($8::boolean OR revision = ANY($9::integer[]))
      AND NOT (name = $3 AND detail = $4 AND actions = $5::jsonb
               AND on_complete_flow_id IS NOT DISTINCT FROM $6::uuid)
    RETURNING id, customer_id, revision, tm_create, name, detail, actions, on_complete_flow_id, direct_hash
), r AS (
    INSERT INTO flow_revisions (flow_id, revision, customer_id, name, detail, actions, on_complete_flow_id,
                                author_type, author_id, author_name, tm_create)
    SELECT id, revision, customer_id, name, detail, actions, on_complete_flow_id, $10, $11, $12, $7 FROM f
)
SELECT revision, tm_create, direct_hash FROM f`}
)

// createFlowPgx is createFlowPostgres's statement on pgx; false inside a transaction.
func (s *Store) createFlowPgx(ctx context.Context, f *Flow, actions []byte, by Author) (bool, error) {
	return s.onPgx(ctx, pgCreateFlow, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, pgCreateFlow.name, f.ID, f.CustomerID, f.Name, f.Detail, actions, f.OnCompleteFlowID,
			f.TMCreate, by.Type, by.ID, by.Name)
		return err
	})
}

// flowUpdate is what updateFlowPostgres writes.
type flowUpdate struct {
	f         *Flow // id, customer, name, detail, on_complete_flow_id, tm_update
	actions   []byte
	any       bool
	revisions []int32
	by        Author
}

// updateFlowPgx is updateFlowPostgres's statement on pgx: the new revision and the flow's tm_create, or
// pgx.ErrNoRows when it wrote nothing. false inside a transaction.
func (s *Store) updateFlowPgx(ctx context.Context, u flowUpdate) (ok bool, revision int, created time.Time, directHash *string, err error) {
	ok, err = s.onPgx(ctx, pgUpdateFlow, func(c *pgx.Conn) error {
		f := u.f
		return c.QueryRow(ctx, pgUpdateFlow.name, f.ID, f.CustomerID, f.Name, f.Detail, u.actions, f.OnCompleteFlowID,
			*f.TMUpdate, u.any, u.revisions, u.by.Type, u.by.ID, u.by.Name).Scan(&revision, &created, &directHash)
	})
	return ok, revision, created, directHash, err
}

func int32s(ns []int) []int32 {
	out := make([]int32, len(ns))
	for i, n := range ns {
		out[i] = int32(n)
	}
	return out
}

// The statements of a call's start and step. The columns are those of Activeflow, all of them:
// TestPreparedActiveflowColumns fails when a field is added to Activeflow and not here. The writes are in
// activeflows_postgres.go.
const activeflowColumns = `id, customer_id, flow_id, flow_revision, status, end_reason, state, version, webhook_uri,
    webhook_method, on_complete_flow_id, on_complete_activeflow_id, on_complete_error, reference_activeflow_id,
    complete_count, reference_type, reference_id, claim_until, tm_create, tm_update, tm_end, tm_delete`

var (
	pgGetActiveflow = pgStatement{name: "flowbin_get_activeflow", op: "SELECT", sql: `SELECT ` + activeflowColumns + `
FROM activeflows WHERE id = $1 AND customer_id = $2 AND tm_delete IS NULL`}
)

// getActiveflowPgx is GetActiveflow's read on pgx: the row, or pgx.ErrNoRows. false inside a transaction.
func (s *Store) getActiveflowPgx(ctx context.Context, customerID, id uuid.UUID) (bool, *Activeflow, error) {
	var a Activeflow
	ok, err := s.onPgx(ctx, pgGetActiveflow, func(c *pgx.Conn) error {
		var state []byte
		var flowID, onComplete, onCompleteAF, refAF, refID pgtype.UUID
		err := c.QueryRow(ctx, pgGetActiveflow.name, id, customerID).Scan(&a.ID, &a.CustomerID, &flowID, &a.FlowRevision,
			&a.Status, &a.EndReason, &state, &a.Version, &a.WebhookURI, &a.WebhookMethod, &onComplete, &onCompleteAF,
			&a.OnCompleteError, &refAF, &a.CompleteCount, &a.ReferenceType, &refID, &a.ClaimUntil, &a.TMCreate,
			&a.TMUpdate, &a.TMEnd, &a.TMDelete)
		if err != nil {
			return err
		}
		a.FlowID, a.OnCompleteFlowID, a.OnCompleteActiveflowID = uuidPtr(flowID), uuidPtr(onComplete), uuidPtr(onCompleteAF)
		a.ReferenceActiveflowID, a.ReferenceID = uuidPtr(refAF), uuidPtr(refID)
		a.TMCreate = a.TMCreate.UTC()
		for _, t := range []*time.Time{a.ClaimUntil, a.TMUpdate, a.TMEnd, a.TMDelete} {
			if t != nil {
				*t = t.UTC()
			}
		}
		return a.State.Scan(state)
	})
	return ok, &a, err
}

func uuidPtr(u pgtype.UUID) *uuid.UUID {
	if !u.Valid {
		return nil
	}
	id := uuid.UUID(u.Bytes)
	return &id
}
