// Package store persists flowbin's data with GORM, on PostgreSQL (the production store, shared by any number of
// instances) or on an embedded SQLite file (the zero set-up default). It knows nothing of HTTP.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
)

// Dialect names the database behind a Store.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

//go:embed migrations
var migrations embed.FS

// Config says which database to open and how.
type Config struct {
	// URL is a postgres:// (or postgresql://) URL; empty means SQLite at SQLitePath.
	URL string
	// SQLitePath is the SQLite database file, used when URL is empty.
	SQLitePath string
	// Migrate applies pending migrations on open.
	Migrate bool
	// MaxConns bounds the connection pool; 0 picks a default for the dialect.
	MaxConns int
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now. Tests set it to control timestamps.
	Now func() time.Time
	// ListenHeartbeat is how long the PostgreSQL change listener (WatchFlowChanges) may stay quiet before it
	// checks its connection, and how long that check may take (default 5s).
	ListenHeartbeat time.Duration
	// TracerProvider, when set, gives every SQL statement a span (see traceSQL).
	TracerProvider trace.TracerProvider
	// OutboxMaxPending caps the messages one customer may have waiting for delivery (default
	// DefaultOutboxMaxPending); what a write adds beyond it is recorded as dropped (see EnqueueOutbox).
	OutboxMaxPending int
}

// Store is the database. It is safe for concurrent use.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	dialect Dialect
	now     func() time.Time
	log     *slog.Logger

	url       string // PostgreSQL's, for the change listener and announcer
	heartbeat time.Duration
	feed      changeFeed
	announcer *announcer // nil on SQLite
	outbox    outboxLimits
	frames    frameCache   // immutable action lists of activeflows' frames (activeflows_frames.go)
	tracer    trace.Tracer // of the statements on pgx (prepared_postgres.go); nil without a TracerProvider
}

// Open connects to the database described by cfg and, when cfg.Migrate is set, migrates it.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		dialector gorm.Dialector
		dialect   Dialect
		maxConns  = cfg.MaxConns
	)
	switch {
	case cfg.URL == "":
		if cfg.SQLitePath == "" {
			return nil, errors.New("store: open: no database URL and no SQLite path")
		}
		dialect = SQLite
		dialector = sqlite.Open(sqliteDSN(cfg.SQLitePath))
		if maxConns == 0 {
			maxConns = 8
		}
	case strings.HasPrefix(cfg.URL, "postgres://"), strings.HasPrefix(cfg.URL, "postgresql://"):
		dialect = Postgres
		dsn, err := writerDSN(cfg.URL)
		if err != nil {
			return nil, err
		}
		dialector = postgres.New(postgres.Config{DSN: dsn})
		if maxConns == 0 {
			maxConns = 16
		}
	default:
		return nil, fmt.Errorf("store: open: unsupported database URL %q: want postgres://… or empty for SQLite",
			RedactURL(cfg.URL))
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 gormlogger.Discard,
		SkipDefaultTransaction: true,
		// Timestamps are always set explicitly, in UTC, to the microsecond both dialects keep.
		NowFunc: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dialect, classify(err))
	}
	if cfg.TracerProvider != nil {
		if err := traceSQL(db, dialect, cfg.TracerProvider); err != nil {
			return nil, fmt.Errorf("store: open %s: trace SQL: %w", dialect, err)
		}
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dialect, err)
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	heartbeat := cfg.ListenHeartbeat
	if heartbeat <= 0 {
		heartbeat = 5 * time.Second
	}
	s := &Store{db: db, sqlDB: sqlDB, dialect: dialect, now: now, log: log, url: cfg.URL, heartbeat: heartbeat}
	s.outbox.maxPending = cmp.Or(max(cfg.OutboxMaxPending, 0), DefaultOutboxMaxPending)
	if cfg.TracerProvider != nil {
		s.tracer = cfg.TracerProvider.Tracer("github.com/flowbin/flowbin/store")
	}
	if err := s.Ping(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	check := s.checkMigrated
	if cfg.Migrate {
		check = s.Migrate
	}
	if err := check(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	if dialect == Postgres {
		s.startAnnouncing()
	}
	return s, nil
}

// sqliteDSN turns a file path into a DSN: WAL so that readers never wait for the writer, a busy timeout and
// immediate transactions so that concurrent writers queue instead of failing. (Not _time_format: the driver then
// ignores _txlock. Its default format, "2006-01-02 15:04:05.999999999-07:00", already sorts chronologically for
// UTC times, which is all the store writes.)
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return "file:" + filepath.ToSlash(path) + "?" + q.Encode()
}

// PoolStats reports the connection pool's statistics (for metrics).
func (s *Store) PoolStats() sql.DBStats { return s.sqlDB.Stats() }

// Dialect reports which database the store uses.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", classify(err))
	}
	return nil
}

// Close announces the changes not yet announced (briefly), and closes the connection pool.
func (s *Store) Close() error {
	s.stopAnnouncing()
	return s.sqlDB.Close()
}

// writerDSN marks the pool's connections as flowbin's (the setting flowbin.writer): the flows trigger leaves the
// announcement of their changes to the store (see migration 00004).
func writerDSN(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("store: open: database URL %s: %w", RedactURL(raw), err)
	}
	q := u.Query()
	q.Set(writerSetting, "on")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Migrate applies the pending migrations of the store's dialect. On PostgreSQL a session lock serialises
// instances that start together.
func (s *Store) Migrate(ctx context.Context) error {
	provider, err := s.migrations(true)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", classify(err))
	}
	for _, r := range results {
		s.log.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

// checkMigrated fails with ErrNotMigrated when the database is behind this binary's migrations, so that a store
// opened without migrating says so at once instead of failing later on a missing table or column.
func (s *Store) checkMigrated(ctx context.Context) error {
	provider, err := s.migrations(false)
	if err != nil {
		return fmt.Errorf("store: check migrations: %w", err)
	}
	sources := provider.ListSources()
	target := sources[len(sources)-1].Version
	current := int64(0)
	if s.db.WithContext(ctx).Migrator().HasTable(goose.DefaultTablename) {
		if current, _, err = provider.GetVersions(ctx); err != nil {
			return fmt.Errorf("store: check migrations: %w", classify(err))
		}
	}
	if current < target {
		return fmt.Errorf("store: %w: it is at migration %d, this flowbin needs %d", ErrNotMigrated, current, target)
	}
	return nil
}

// migrations is the goose provider of the store's dialect; locked takes PostgreSQL's session lock around changes.
func (s *Store) migrations(locked bool) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	gooseDialect := goose.DialectSQLite3
	if s.dialect == Postgres {
		gooseDialect = goose.DialectPostgres
		if locked {
			locker, err := lock.NewPostgresSessionLocker()
			if err != nil {
				return nil, err
			}
			opts = append(opts, goose.WithSessionLocker(locker))
		}
	}
	return goose.NewProvider(gooseDialect, s.sqlDB, fsys, opts...)
}

// timestamp is the store's clock, in UTC and truncated to the microsecond that both dialects keep.
func (s *Store) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// RedactURL hides the password of a database URL, for logs and error messages.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
