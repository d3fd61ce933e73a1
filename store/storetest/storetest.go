// Package storetest opens fresh databases for tests: an SQLite file in a temporary directory, or a new database
// on the PostgreSQL server named by FLOWBIN_TEST_POSTGRES_URL (default: the local server's "test" database).
//
// PostgreSQL tests skip when the server cannot be reached, except when CI=true: then they fail.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
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

// NewPostgresDatabase creates an empty database and returns its URL. It is dropped when the test ends.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	if err := postgresReachable(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s is unreachable (CI=true, so this fails): %v", store.RedactURL(AdminURL()), err)
		}
		t.Skipf("PostgreSQL at %s is unreachable: %v", store.RedactURL(AdminURL()), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "flowbin_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
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
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("parse %s: %v", store.RedactURL(AdminURL()), err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open opens a fresh, migrated store on the backend, closed when the test ends.
func Open(t testing.TB, b Backend, opts ...func(*store.Config)) *store.Store {
	t.Helper()
	cfg := Config(t, b)
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
