package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"

	_ "github.com/glebarez/go-sqlite" // the "sqlite" driver that flowbin's SQLite store is built on
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// seedRow is one seeded flow with everything both tables need.
type seedRow struct {
	n        int
	id       uuid.UUID
	customer uuid.UUID
	def      *definition
	actions  []byte
}

func makeRow(n int) seedRow {
	def := seededDefinition(n)
	return seedRow{n: n, id: flowID(n), customer: customerID((n - 1) % customers), def: def, actions: def.actionsJSON()}
}

// seedPostgres writes the customers, the flows and their revision 1 with COPY, the fastest way in. Two
// connections share the work (one per core); the revisions follow the flows because of their foreign key.
func seedPostgres(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var custRows [][]any
	for c := range customers {
		custRows = append(custRows, []any{customerID(c), customerNames[c], seedBase})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"customers"}, []string{"id", "name", "tm_create"},
		pgx.CopyFromRows(custRows)); err != nil {
		return fmt.Errorf("seed customers: %w", err)
	}

	flowCols := []string{"id", "customer_id", "name", "detail", "actions", "on_complete_flow_id", "revision", "tm_create"}
	flowValues := func(r seedRow) []any {
		return []any{r.id, r.customer, r.def.Name, r.def.Detail, r.actions, nil, 1, flowTime(r.n)}
	}
	revCols := []string{"flow_id", "revision", "customer_id", "name", "detail", "actions", "on_complete_flow_id",
		"author_type", "author_id", "author_name", "tm_create"}
	revValues := func(r seedRow) []any {
		return []any{r.id, 1, r.customer, r.def.Name, r.def.Detail, r.actions, nil, "user", seedAuthor, "seed", flowTime(r.n)}
	}
	for _, t := range []struct {
		table  string
		cols   []string
		values func(seedRow) []any
	}{{"flows", flowCols, flowValues}, {"flow_revisions", revCols, revValues}} {
		if err := parallelCopy(ctx, dbURL, t.table, t.cols, t.values); err != nil {
			return err
		}
	}
	// Fresh statistics and visibility, and no checkpoint debt from the seeding landing inside a measurement.
	for _, q := range []string{"VACUUM ANALYZE", "CHECKPOINT"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("seed: %s: %w", q, err)
		}
	}
	return nil
}

// parallelCopy copies rows 1…totalFlows into table on two connections, each taking alternate blocks of n.
func parallelCopy(ctx context.Context, dbURL, table string, cols []string, values func(seedRow) []any) error {
	const workers = 2
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			conn, err := pgx.Connect(ctx, dbURL)
			if err != nil {
				errs[w] = err
				return
			}
			defer conn.Close(ctx)
			half := totalFlows / workers
			src := &rowSource{next: w*half + 1, last: (w + 1) * half, values: values}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, src); err != nil {
				errs[w] = fmt.Errorf("seed %s: %w", table, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// rowSource generates rows for CopyFrom on demand, so that the data set is never held in memory at once.
type rowSource struct {
	next, last int
	values     func(seedRow) []any
	cur        []any
}

func (s *rowSource) Next() bool {
	if s.next > s.last {
		return false
	}
	s.cur = s.values(makeRow(s.next))
	s.next++
	return true
}

func (s *rowSource) Values() ([]any, error) { return s.cur, nil }
func (s *rowSource) Err() error             { return nil }

// seedSQLite writes the same data set into flowbin's SQLite file (schema made by `flowbin migrate`), in one
// transaction. Values are passed as flowbin's store passes them: UUIDs as text, actions as JSON text, and
// time.Time, which the driver writes in its default format ("2006-01-02 15:04:05.999999999-07:00"), as flowbin's
// rows are written.
func seedSQLite(ctx context.Context, path string, flows int) error {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(OFF)") // only while seeding: nothing to lose but the seed itself
	q.Add("_pragma", "foreign_keys(1)")
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for c := range customers {
		if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, name, tm_create) VALUES (?, ?, ?)`,
			customerID(c).String(), customerNames[c], seedBase); err != nil {
			return fmt.Errorf("seed customers: %w", err)
		}
	}
	insFlow, err := tx.PrepareContext(ctx, `INSERT INTO flows (id, customer_id, name, detail, actions,
		on_complete_flow_id, revision, tm_create) VALUES (?, ?, ?, ?, ?, NULL, 1, ?)`)
	if err != nil {
		return err
	}
	insRev, err := tx.PrepareContext(ctx, `INSERT INTO flow_revisions (flow_id, revision, customer_id, name, detail,
		actions, on_complete_flow_id, author_type, author_id, author_name, tm_create)
		VALUES (?, 1, ?, ?, ?, ?, NULL, 'user', ?, 'seed', ?)`)
	if err != nil {
		return err
	}
	for n := 1; n <= flows; n++ {
		if n%10_000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		r := makeRow(n)
		id, cust, actions, at := r.id.String(), r.customer.String(), string(r.actions), flowTime(n)
		if _, err := insFlow.ExecContext(ctx, id, cust, r.def.Name, r.def.Detail, actions, at); err != nil {
			return fmt.Errorf("seed flows: %w", err)
		}
		if _, err := insRev.ExecContext(ctx, id, cust, r.def.Name, r.def.Detail, actions, seedAuthor.String(), at); err != nil {
			return fmt.Errorf("seed flow_revisions: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}
