package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite" // the driver behind glebarez/sqlite, for the migration before 00006
	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestMigration00006DropsClearKeys: the answers to POST /v1.0/accesskeys kept before answers were sealed hold raw
// keys in clear; migration 00006 deletes them, and leaves the others, and the users and keys it extends, intact.
func TestMigration00006DropsClearKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		cfg := storetest.Config(t, b)
		driver, dsn, dialect := "sqlite", "file:"+cfg.SQLitePath, goose.DialectSQLite3
		if b == storetest.Postgres {
			driver, dsn, dialect = "pgx", cfg.URL, goose.DialectPostgres
		}
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		provider, err := goose.NewProvider(dialect, db, os.DirFS("migrations/"+string(b)), goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := provider.UpTo(ctx, 5); err != nil {
			t.Fatal(err)
		}
		customer := uuid.New()
		now := time.Now().UTC().Format("2006-01-02 15:04:05.000000+00:00")
		for _, op := range []string{"POST /v1.0/accesskeys", "POST /v1.0/flows"} {
			if _, err := db.ExecContext(ctx, rebind(b, `INSERT INTO idempotency_keys (customer_id, operation, key, request_hash, state,
				response_status, response_header, response_body, tm_lock, tm_expire) VALUES (?, ?, 'k1', 'h', 'done', 200, '{}', ?, ?, ?)`),
				customer.String(), op, []byte(`{"token":"fbk_clear"}`), now, now); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.ExecContext(ctx, rebind(b, `INSERT INTO customers (id, name, tm_create) VALUES (?, 'acme', ?)`), customer.String(), now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, rebind(b, `INSERT INTO users (id, customer_id, username, password_hash, tm_create) VALUES (?, ?, 'old', 'h', ?)`),
			uuid.NewString(), customer.String(), now); err != nil {
			t.Fatal(err)
		}
		db.Close()

		st, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		_, err = st.GetIdempotencyRecord(ctx, store.IdempotencyKey{CustomerID: customer, Operation: "POST /v1.0/accesskeys", Key: "k1"})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the clear answer of an access-key creation survived 00006: %v", err)
		}
		if _, err := st.GetIdempotencyRecord(ctx, store.IdempotencyKey{CustomerID: customer, Operation: "POST /v1.0/flows", Key: "k1"}); err != nil {
			t.Errorf("another answer was dropped: %v", err)
		}
		u, err := st.UserByUsername(ctx, "old")
		if err != nil || u.TokenGeneration != 0 || u.TMDisable != nil {
			t.Errorf("a user from before 00006: %+v, %v", u, err)
		}
	})
}

// rebind turns ? placeholders into PostgreSQL's $n.
func rebind(b storetest.Backend, q string) string {
	if b != storetest.Postgres {
		return q
	}
	out, n := []byte{}, 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, '$')
			out = append(out, strconv.Itoa(n)...)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}
