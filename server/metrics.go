package server

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
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
		req := c.Request()
		if span := trace.SpanFromContext(req.Context()); span.IsRecording() {
			span.SetName(req.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		s.metrics.HTTPRequests.WithLabelValues(req.Method, route, strconv.Itoa(c.Response().Status)).
			Observe(time.Since(start).Seconds())
		return nil
	}
}
