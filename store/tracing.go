package store

import (
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// maxTracedSQL bounds the statement text put on a span.
const maxTracedSQL = 2048

// traceSQL gives every GORM statement a client span, child of the request's span. The statement's text carries
// placeholders, never the values bound to them.
func traceSQL(db *gorm.DB, dialect Dialect, tp trace.TracerProvider) error {
	tracer := tp.Tracer("github.com/flowbin/flowbin/store")
	system := map[Dialect]string{Postgres: "postgresql", SQLite: "sqlite"}[dialect]
	start := func(op string) func(*gorm.DB) {
		return func(tx *gorm.DB) {
			ctx, _ := tracer.Start(tx.Statement.Context, "sql "+op, trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("db.system.name", system)))
			tx.Statement.Context = ctx
		}
	}
	end := func(tx *gorm.DB) {
		span := trace.SpanFromContext(tx.Statement.Context)
		if !span.IsRecording() {
			return
		}
		sql := tx.Statement.SQL.String()
		if len(sql) > maxTracedSQL {
			sql = sql[:maxTracedSQL]
		}
		span.SetAttributes(attribute.String("db.query.text", sql), attribute.Int64("db.rows_affected", tx.RowsAffected))
		if tx.Statement.Table != "" {
			span.SetAttributes(attribute.String("db.collection.name", tx.Statement.Table))
		}
		if err := tx.Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			span.RecordError(err)
			span.SetStatus(codes.Error, "query failed")
		}
		span.End()
	}
	cb := db.Callback()
	return errors.Join(
		cb.Create().Before("gorm:create").Register("flowbin:span_start", start("INSERT")),
		cb.Create().After("gorm:create").Register("flowbin:span_end", end),
		cb.Query().Before("gorm:query").Register("flowbin:span_start", start("SELECT")),
		cb.Query().After("gorm:query").Register("flowbin:span_end", end),
		cb.Update().Before("gorm:update").Register("flowbin:span_start", start("UPDATE")),
		cb.Update().After("gorm:update").Register("flowbin:span_end", end),
		cb.Delete().Before("gorm:delete").Register("flowbin:span_start", start("DELETE")),
		cb.Delete().After("gorm:delete").Register("flowbin:span_end", end),
		cb.Row().Before("gorm:row").Register("flowbin:span_start", start("row")),
		cb.Row().After("gorm:row").Register("flowbin:span_end", end),
		cb.Raw().Before("gorm:raw").Register("flowbin:span_start", start("raw")),
		cb.Raw().After("gorm:raw").Register("flowbin:span_end", end),
	)
}
