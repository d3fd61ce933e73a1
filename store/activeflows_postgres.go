package store

// An activeflow's change in one statement on PostgreSQL: the row (inserted, or updated at the version read and
// unless another holds a claim), the action lists of its new frames, the actions it executed since it was read
// (appended as rows) and the outbox messages it owes, as one data-modifying WITH, prepared on the pool's pgx
// connection like the statements of prepared_postgres.go. A step that writes its events used to be BEGIN, the
// update, the outbox's cap, its inserts, its destinations and COMMIT: six round trips through GORM, each with its
// reflection. GORM stays the ORM for everything else (and for this change inside a transaction of the caller's,
// and on SQLite, where WriteActiveflows writes the same rows in one transaction): see prepared_postgres.go.
//
// The rows go in as arrays, one per column, unnested in the statement: one statement text whatever the number
// of rows, prepared once. A statement whose row condition holds nothing (a stale save) inserts nothing either:
// every insert selects from the row the first part wrote.

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// activeflowWriteSQL is the statement of one change: a create or a save, with or without outbox messages.
func activeflowWriteSQL(create, outbox bool) string {
	var b strings.Builder
	n := 12 // the parameters of the row's part
	if create {
		n = 22
		b.WriteString(`WITH u AS (
    INSERT INTO activeflows (` + activeflowColumns + `)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
    RETURNING id, customer_id
)`)
	} else {
		b.WriteString(`WITH u AS (
    UPDATE activeflows
    SET status = $3, end_reason = $4, state = $5, version = $6 + 1, tm_update = $7, tm_end = $8, tm_delete = $9,
        on_complete_activeflow_id = $10, on_complete_error = $11, claim_until = NULL
    WHERE id = $1 AND customer_id = $2 AND tm_delete IS NULL AND version = $6
      AND ($12::boolean OR claim_until IS NULL OR claim_until <= $7)
    RETURNING id, customer_id
)`)
	}
	p := func(i int) string { return "$" + strconv.Itoa(n+i) }
	b.WriteString(`, r AS (
    INSERT INTO activeflow_actions (activeflow_id, step, customer_id, flow_id, flow_revision, action_id, action_type,
                                    executed, tm_execute)
    SELECT u.id, x.step, u.customer_id, x.flow_id, x.flow_revision, x.action_id, x.action_type, x.executed::json,
           x.tm_execute
    FROM u, unnest(` + p(1) + `::integer[], ` + p(2) + `::uuid[], ` + p(3) + `::integer[], ` + p(4) + `::uuid[], ` +
		p(5) + `::text[], ` + p(6) + `::text[], ` + p(7) + `::timestamptz[])
        AS x (step, flow_id, flow_revision, action_id, action_type, executed, tm_execute)
), f AS (
    INSERT INTO activeflow_frames (activeflow_id, frame_key, source, actions)
    SELECT u.id, x.frame_key, x.source, x.actions::json
    FROM u, unnest(` + p(8) + `::integer[], ` + p(9) + `::text[], ` + p(10) + `::text[]) AS x (frame_key, source, actions)
)`)
	if !outbox {
		b.WriteString(`
SELECT count(*), 0 FROM u`)
		return b.String()
	}
	// The customer's cap (EnqueueOutbox): counted up to the cap, in the statement's snapshot; the messages past it
	// are written dropped.
	b.WriteString(`, w AS (
    SELECT count(*) AS n FROM (SELECT 1 FROM outbox WHERE customer_id = $2 AND state = 'pending' LIMIT ` + p(11) + `) AS waiting
), m AS (
    INSERT INTO outbox (id, customer_id, activeflow_id, event_type, url, method, content_type, payload, signed,
                        destination, state, attempts, next_attempt, tm_create, tm_update)
    SELECT x.id, u.customer_id, u.id, x.event_type, x.url, x.method, x.content_type, x.payload, x.signed,
           x.destination, CASE WHEN w.n + x.ord <= ` + p(11) + ` THEN 'pending' ELSE 'dropped' END, 0, ` + p(12) + `, ` + p(12) + `,
           CASE WHEN w.n + x.ord <= ` + p(11) + ` THEN NULL ELSE ` + p(12) + `::timestamptz END
    FROM u, w, unnest(` + p(13) + `::uuid[], ` + p(14) + `::text[], ` + p(15) + `::text[], ` + p(16) + `::text[], ` +
		p(17) + `::text[], ` + p(18) + `::text[], ` + p(19) + `::boolean[], ` + p(20) + `::text[])
        WITH ORDINALITY AS x (id, event_type, url, method, content_type, payload, signed, destination, ord)
    RETURNING customer_id, destination, state
), d AS (
    INSERT INTO outbox_destinations (customer_id, destination)
    SELECT DISTINCT customer_id, destination FROM m WHERE state = 'pending'
    ON CONFLICT (customer_id, destination) DO NOTHING
)
SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM m WHERE state = 'dropped')`)
	return b.String()
}

var (
	pgCreateActiveflow       = pgStatement{name: "flowbin_create_activeflow_v2", op: "INSERT", sql: activeflowWriteSQL(true, false)}
	pgCreateActiveflowOutbox = pgStatement{name: "flowbin_create_activeflow_outbox", op: "INSERT", sql: activeflowWriteSQL(true, true)}
	pgSaveActiveflow         = pgStatement{name: "flowbin_save_activeflow_v2", op: "UPDATE", sql: activeflowWriteSQL(false, false)}
	pgSaveActiveflowOutbox   = pgStatement{name: "flowbin_save_activeflow_outbox", op: "UPDATE", sql: activeflowWriteSQL(false, true)}
)

// writeActiveflowPgx is WriteActiveflows' statement for one change: false (nothing run) on SQLite or inside a
// transaction of ctx; errNotWritten when the save's condition held no row.
func (s *Store) writeActiveflowPgx(ctx context.Context, c ActiveflowChange, now time.Time, notify func()) (bool, error) {
	if s.dialect != Postgres || inTx(ctx) {
		return false, nil
	}
	a := c.A
	state, err := a.State.Encode()
	if err != nil {
		return true, err
	}
	var args []any
	st := pgSaveActiveflow
	if c.Create {
		st = pgCreateActiveflow
		args = []any{a.ID, a.CustomerID, a.FlowID, a.FlowRevision, a.Status, a.EndReason, state, a.Version, a.WebhookURI,
			a.WebhookMethod, a.OnCompleteFlowID, a.OnCompleteActiveflowID, a.OnCompleteError, a.ReferenceActiveflowID,
			a.CompleteCount, a.ReferenceType, a.ReferenceID, a.ClaimUntil, a.TMCreate, a.TMUpdate, a.TMEnd, a.TMDelete}
	} else {
		args = []any{a.ID, a.CustomerID, a.Status, a.EndReason, state, a.Version, now, a.TMEnd, a.TMDelete,
			a.OnCompleteActiveflowID, a.OnCompleteError, a.claimed}
	}
	// The actions executed since the activeflow was read, column by column.
	unsaved := a.State.Unsaved()
	steps, revisions := make([]int32, len(unsaved)), make([]pgtype.Int4, len(unsaved))
	flowIDs, actionIDs := make([]pgtype.UUID, len(unsaved)), make([]pgtype.UUID, len(unsaved))
	types, executed, times := make([]string, len(unsaved)), make([]string, len(unsaved)), make([]time.Time, len(unsaved))
	for i := range unsaved {
		row, err := NewActiveflowAction(a.ID, a.CustomerID, &unsaved[i])
		if err != nil {
			return true, err
		}
		steps[i], types[i], executed[i], times[i] = int32(row.Step), row.ActionType, row.Executed, row.TMExecute
		actionIDs[i] = pgtype.UUID{Bytes: row.ActionID, Valid: true}
		if row.FlowID != nil {
			flowIDs[i] = pgtype.UUID{Bytes: *row.FlowID, Valid: true}
			revisions[i] = pgtype.Int4{Int32: int32(*row.FlowRevision), Valid: true}
		}
	}
	frames := a.State.NewFrames()
	keys, sources, lists := make([]int32, len(frames)), make([]string, len(frames)), make([]string, len(frames))
	for i, f := range frames {
		keys[i], sources[i], lists[i] = int32(f.Key), f.Source, string(Actions(f.Actions).encode())
	}
	args = append(args, steps, flowIDs, revisions, actionIDs, types, executed, times, keys, sources, lists)
	if msgs := c.Messages; len(msgs) > 0 {
		st = pgSaveActiveflowOutbox
		if c.Create {
			st = pgCreateActiveflowOutbox
		}
		ids := make([]pgtype.UUID, len(msgs))
		evs, urls, methods, ctypes, payloads, dests := make([]string, len(msgs)), make([]string, len(msgs)),
			make([]string, len(msgs)), make([]string, len(msgs)), make([]string, len(msgs)), make([]string, len(msgs))
		signed := make([]bool, len(msgs))
		for i := range msgs {
			m := &msgs[i]
			if m.ID == uuid.Nil {
				id, err := uuid.NewV7()
				if err != nil {
					return true, err
				}
				m.ID = id
			}
			m.Destination = OutboxDestination(m.URL)
			ids[i] = pgtype.UUID{Bytes: m.ID, Valid: true}
			evs[i], urls[i], methods[i], ctypes[i], payloads[i], dests[i] = m.EventType, m.URL, m.Method, m.ContentType, m.Payload, m.Destination
			signed[i] = m.Signed
		}
		args = append(args, int32(s.outbox.maxPending), now, ids, evs, urls, methods, ctypes, payloads, signed, dests)
	}
	var written, dropped int64
	ok, err := s.onPgx(ctx, st, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, st.name, args...).Scan(&written, &dropped)
	})
	if err != nil || !ok {
		return ok, err
	}
	if written == 0 {
		return true, errNotWritten
	}
	if dropped > 0 {
		s.outbox.dropped.Add(dropped)
	}
	if notify != nil && len(c.Messages) > 0 {
		notify()
	}
	return true, nil
}
