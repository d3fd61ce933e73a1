package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Errors that callers check with errors.Is.
var (
	// ErrNotFound: no such row for the caller. Returned wrapped in a *NotFoundError.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is taken.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the database cannot be reached, or did not answer in time. Retrying may succeed.
	ErrUnavailable = errors.New("database unavailable")
	// ErrNotMigrated: the database lacks migrations that this binary needs (it was opened without migrating).
	ErrNotMigrated = errors.New("database not migrated")
	// ErrStale: a write refused because the row changed since it was read.
	ErrStale = errors.New("stale")
)

// PreconditionError is a conditional write (If-Match) refused because the flow is at another revision.
type PreconditionError struct {
	Current int
}

func (e *PreconditionError) Error() string {
	return fmt.Sprintf("the flow is at revision %d", e.Current)
}

// NotFoundError says which resource was not found.
type NotFoundError struct {
	Resource string // "flow", "accesskey", …
	ID       string
}

func (e *NotFoundError) Error() string {
	if e.ID == "" {
		return e.Resource + " not found"
	}
	return e.Resource + " " + e.ID + " not found"
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

func notFound(resource string, id uuid.UUID) error {
	return &NotFoundError{Resource: resource, ID: id.String()}
}

// getOne reads the one row that q selects: none is a *NotFoundError naming resource and id ("" when the caller
// looked it up by something that must not be echoed, such as a token hash), a failure is classified. Callers wrap
// the error with what they were doing ("store: get flow: %w").
func getOne[T any](q *gorm.DB, resource, id string) (*T, error) {
	var row T
	err := q.Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{Resource: resource, ID: id}
	}
	if err != nil {
		return nil, classify(err)
	}
	return &row, nil
}

// classify wraps err with ErrUnavailable or ErrConflict when it is one of those, so that callers can tell a
// database that is down from a bug.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return err
	case isUnavailable(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case isUniqueViolation(err):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

func isUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "53"),                                 // insufficient resources
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, cannot connect now
			pgErr.Code == "57014",                        // query canceled (statement timeout)
			pgErr.Code == "40001", pgErr.Code == "40P01": // serialization failure, deadlock: safe to retry
			return true
		}
		return false
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var sqliteErr *gosqlite.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "database is closed") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset")
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqliteErr *gosqlite.Error
	if errors.As(err, &sqliteErr) {
		// SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY.
		return sqliteErr.Code() == 2067 || sqliteErr.Code() == 1555
	}
	return false
}
