package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowbin/flowbin/flow"
)

// observe measures every request (flowbin_http_request_duration_seconds) by its spec route, and names the
// request's trace span (when tracing is on) after the route. It sits outside the access log, which writes error
// answers, so that it sees the final status.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := "(unmatched)"
		if op := s.operation(c); op != nil {
			route = op.path
		}
		method := methodLabel(requestMethod(c.Request()))
		if span := trace.SpanFromContext(c.Request().Context()); span.IsRecording() {
			span.SetName(method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		s.metrics.HTTPRequests.WithLabelValues(method, route, strconv.Itoa(c.Response().Status)).
			Observe(time.Since(start).Seconds())
		return nil
	}
}

// knownMethods are the methods a metric label or a span name may hold: those of RFC 9110 and PATCH. A client
// chooses the method it sends, so any other is OTHER; otherwise anyone could add series without logging in.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true,
	http.MethodTrace: true,
}

// methodLabel is the request's method as a label: one of knownMethods, or OTHER.
func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "OTHER"
}

// executionMark is what an execution had done before an advance, to count what the advance did.
type executionMark struct {
	executed int
	ended    bool
}

func mark(x *flow.Execution) executionMark { return executionMark{len(x.Executed), x.Ended} }

// observeExecution counts the actions an advance (start, next, stop) executed, and the end it reached.
func (s *Server) observeExecution(before executionMark, x *flow.Execution) {
	for _, e := range x.Executed[min(before.executed, len(x.Executed)):] {
		s.metrics.ActiveflowSteps.WithLabelValues(string(e.Type)).Inc()
	}
	if x.Ended && !before.ended {
		s.metrics.ActiveflowsEnded.WithLabelValues(x.EndReason).Inc()
	}
}
