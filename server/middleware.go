package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/flow"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyClientIP
	keyPrincipal
	keyHead
)

// headAsGet answers HEAD wherever GET is answered: the request is routed and handled as the GET it stands for,
// and the HTTP server, which still holds the HEAD it received, sends the status and headers without the body.
// The measurement and the access log still name the method HEAD (requestMethod).
func headAsGet(r *http.Request) *http.Request {
	if r.Method != http.MethodHead {
		return r
	}
	get := r.WithContext(context.WithValue(r.Context(), keyHead, true)) // a copy: the server's stays HEAD
	get.Method = http.MethodGet
	return get
}

// requestMethod is the method the client sent.
func requestMethod(req *http.Request) string {
	if head, _ := req.Context().Value(keyHead).(bool); head {
		return http.MethodHead
	}
	return req.Method
}

var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// requestID takes a safe inbound X-Request-Id or makes one, and puts it on the response and in the context.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !safeRequestID.MatchString(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		ctx := context.WithValue(c.Request().Context(), keyRequestID, id)
		ctx = context.WithValue(ctx, keyClientIP, c.RealIP())
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newRequestID returns "req_" and 26 random Crockford base32 characters (130 bits).
func newRequestID() string {
	var b [26]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = crockford[b[i]&31]
	}
	return "req_" + string(b[:])
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// accessLog writes one line per request. The query string is logged with credentials redacted.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // write the error answer now, so that its status is logged
		}
		req, res := c.Request(), c.Response()
		level := slog.LevelInfo
		if res.Status >= 500 {
			level = slog.LevelError
		}
		if !s.log.Enabled(req.Context(), level) {
			return nil
		}
		attrs := []slog.Attr{
			slog.String("request_id", requestIDFrom(req.Context())),
			slog.String("method", requestMethod(req)),
			slog.String("route", c.Path()),
			slog.String("path", req.URL.Path),
			slog.Int("status", res.Status),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int64("bytes_out", res.Size),
			slog.String("client", c.RealIP()),
		}
		if q := auth.RedactQuery(req.URL.RawQuery); q != "" {
			attrs = append(attrs, slog.String("query", q))
		}
		s.log.LogAttrs(req.Context(), level, "request", attrs...)
		return nil
	}
}

// recoverPanic turns a panic into a 500 answer and logs the stack.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = &apiError{code: http.StatusInternalServerError, status: statusInternal, reason: reasonInternal,
					message: "internal error", cause: fmt.Errorf("panic: %v\n%s", r, debug.Stack())}
			}
		}()
		return next(c)
	}
}

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

// limitHeaders answers 431 to requests whose header fields and target are larger than the limit. (The HTTP
// server's own, larger limit answers without the envelope; see cmd/flowbin.)
func (s *Server) limitHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		size := len(req.RequestURI)
		for name, values := range req.Header {
			for _, v := range values {
				size += len(name) + len(v) + 4 // ": " and CRLF
			}
		}
		if size > s.cfg.MaxHeaderBytes {
			return newError(http.StatusRequestHeaderFieldsTooLarge, statusInvalidArgument, reasonHeadersTooLarge,
				"the request's headers are larger than %d bytes", s.cfg.MaxHeaderBytes)
		}
		return next(c)
	}
}

// refuseOptions answers OPTIONS with 405: no operation of the API uses it. (With CORS on, the CORS middleware
// has already answered preflight requests.)
func (s *Server) refuseOptions(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodOptions {
			if allow := allowedMethods(s.ops, c.Path()); allow != "" {
				c.Response().Header().Set(echo.HeaderAllow, allow)
			}
			return echo.ErrMethodNotAllowed
		}
		return next(c)
	}
}

// deadline gives every request its server-side deadline.
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// readBody reads the request body of operations that take one into memory, within the size limit, and checks what
// every JSON body must be: application/json, valid UTF-8, and free of NUL characters (which PostgreSQL cannot
// store). Other requests' bodies are ignored.
func (s *Server) readBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		op := s.operation(c)
		if op == nil || !op.hasBody {
			return next(c)
		}
		if req.ContentLength > s.cfg.MaxBodyBytes {
			return bodyTooLarge(s.cfg.MaxBodyBytes)
		}
		if req.Body == nil || req.Body == http.NoBody {
			return next(c)
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, s.cfg.MaxBodyBytes+1))
		if err != nil {
			return badRequest(reasonInvalidBody, "could not read the request body")
		}
		if int64(len(body)) > s.cfg.MaxBodyBytes {
			return bodyTooLarge(s.cfg.MaxBodyBytes)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		if len(body) == 0 {
			return next(c)
		}
		mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
		if err != nil || mt != echo.MIMEApplicationJSON {
			return unsupportedMediaType()
		}
		if p := flow.CheckText(body); p != nil {
			return badRequest(p.Reason, "%s", p.Message)
		}
		return next(c)
	}
}
