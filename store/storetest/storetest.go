// Package storetest opens fresh databases for tests: an SQLite file in a temporary directory, or a new database
// on the PostgreSQL server named by FLOWBIN_TEST_POSTGRES_URL (default: the local server's "test" database).
//
// PostgreSQL tests skip when the server cannot be reached, except when CI=true: then they fail.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection that creates and drops test databases

	"github.com/flowbin/flowbin/store"
)

// Backend is a database kind that tests run on.
type Backend string

// The backends.
const (
	SQLite   Backend = "sqlite"
	Postgres Backend = "postgres"
)

// DefaultPostgresURL is the machine's PostgreSQL server, as CI provides it.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// AdminURL is the PostgreSQL URL that test databases are created through.
func AdminURL() string {
	if u := os.Getenv("FLOWBIN_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

var (
	pgOnce sync.Once
	pgErr  error
)

func postgresReachable() error {
	pgOnce.Do(func() {
		db, err := sql.Open("pgx", AdminURL())
		if err != nil {
			pgErr = err
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pgErr = db.PingContext(ctx)
	})
	return pgErr
}

// Backends returns the backends to run on. FLOWBIN_TEST_BACKENDS may narrow it ("sqlite", "postgres").
func Backends() []Backend {
	switch os.Getenv("FLOWBIN_TEST_BACKENDS") {
	case "sqlite":
		return []Backend{SQLite}
	case "postgres":
		return []Backend{Postgres}
	}
	return []Backend{SQLite, Postgres}
}

// Each runs f as a subtest on every backend.
func Each(t *testing.T, f func(t *testing.T, b Backend)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(string(b), func(t *testing.T) { f(t, b) })
	}
}

// EachParallel is Each with the backends' runs in parallel with each other. A test that is not itself parallel
// (one that would rather not share the cores with the whole package) still fills both cores with its own two runs.
func EachParallel(t *testing.T, f func(t *testing.T, b Backend)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// Config returns a store configuration for a fresh, empty database of the backend, dropped when the test ends.
// It skips the test (or fails it, under CI=true) when PostgreSQL is wanted but unreachable.
func Config(t testing.TB, b Backend) store.Config {
	t.Helper()
	switch b {
	case SQLite:
		return store.Config{SQLitePath: filepath.Join(t.TempDir(), "flowbin.db"), Migrate: true}
	case Postgres:
		return store.Config{URL: NewPostgresDatabase(t), Migrate: true}
	}
	t.Fatalf("unknown backend %q", b)
	return store.Config{}
}

// Migrated is Config for a database with every migration applied already. On PostgreSQL it is a copy of a
// migrated template (created once, see migratedTemplate): copying takes a fraction of the time that migrating
// does, and nearly every test of the store and the server starts with a migrated database.
func Migrated(t testing.TB, b Backend) store.Config {
	t.Helper()
	if b != Postgres {
		return Config(t, b)
	}
	skipUnreachable(t)
	tmpl, err := migratedTemplate()
	if err != nil {
		t.Fatalf("the migrated template database: %v", err)
	}
	return store.Config{URL: newPostgresDatabase(t, tmpl), Migrate: true}
}

// NewPostgresDatabase creates an empty database and returns its URL. It is dropped when the test ends.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	skipUnreachable(t)
	return newPostgresDatabase(t, "")
}

// skipUnreachable skips the test (or fails it, under CI=true) when PostgreSQL cannot be reached.
func skipUnreachable(t testing.TB) {
	t.Helper()
	if err := postgresReachable(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s is unreachable (CI=true, so this fails): %v", store.RedactURL(AdminURL()), err)
		}
		t.Skipf("PostgreSQL at %s is unreachable: %v", store.RedactURL(AdminURL()), err)
	}
}

// newPostgresDatabase creates a database, a copy of template ("" for an empty one), dropped when the test ends.
func newPostgresDatabase(t testing.TB, template string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "flowbin_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
	}
	if _, err := admin.ExecContext(ctx, create); err != nil {
		admin.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := databaseURL(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// databaseURL is the URL of the named database on the admin URL's server.
func databaseURL(name string) (string, error) {
	u, err := url.Parse(AdminURL())
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", store.RedactURL(AdminURL()), err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// templateLock is the advisory lock under which a test process builds the migrated template, so that processes
// running at once (the packages of one go test, the worktrees of several developers) build each template once.
const templateLock = 0x666c6f77_7465 // "flow", "te"

// migratedTemplate answers the name of a database with every PostgreSQL migration applied, from which test
// databases are copied. It is named after the migrations' contents, so that a change of them makes a new one; it
// is built under a new name and renamed when complete, and kept for the next run (it does not accept
// connections, so that nothing can stop it from being copied).
func migratedTemplate() (string, error) {
	templateOnce.Do(func() { templateName, templateErr = buildTemplate() })
	return templateName, templateErr
}

func buildTemplate() (string, error) {
	sum, err := migrationsSum()
	if err != nil {
		return "", err
	}
	name := "flowbin_template_" + sum
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		return "", err
	}
	defer admin.Close()
	conn, err := admin.Conn(ctx) // the session that holds the lock
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", templateLock); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", templateLock)
	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	for _, q := range []string{"DROP DATABASE IF EXISTS " + building + " WITH (FORCE)", "CREATE DATABASE " + building} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return "", fmt.Errorf("%s: %w", q, err)
		}
	}
	u, err := databaseURL(building)
	if err != nil {
		return "", err
	}
	st, err := store.Open(ctx, store.Config{URL: u, Migrate: true})
	if err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	if err := st.Close(); err != nil {
		return "", err
	}
	// Nothing may stay connected to a template: connections of the store's pool that have not closed yet are
	// ended, and the rename waits until they are gone.
	for _, q := range []string{"ALTER DATABASE " + building + " WITH ALLOW_CONNECTIONS false",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + building + "'"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return "", fmt.Errorf("%s: %w", q, err)
		}
	}
	for {
		_, err := conn.ExecContext(ctx, "ALTER DATABASE "+building+" RENAME TO "+name)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("rename the template: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return name, nil
}

// migrationsSum is a digest of the PostgreSQL migrations: their names and contents.
func migrationsSum() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "migrations", "postgres")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read migrations: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Open opens a fresh, migrated store on the backend, closed when the test ends.
func Open(t testing.TB, b Backend, opts ...func(*store.Config)) *store.Store {
	t.Helper()
	cfg := Migrated(t, b)
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s store: %v", b, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// Clock is a settable clock for store.Config.Now.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// WithClock makes a store read the clock.
func WithClock(c *Clock) func(*store.Config) {
	return func(cfg *store.Config) { cfg.Now = c.Now }
}
