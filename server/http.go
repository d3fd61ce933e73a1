// Package server is flowbin's HTTP layer: it implements the strict server generated from openapi.yaml and keeps
// to HTTP concerns (credentials, validation, errors, logs). The rules live in package flow, the data in store.
package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	flowbin "github.com/flowbin/flowbin"
	"github.com/flowbin/flowbin/activeflow"
	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/internal/metrics"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store"
)

// Config holds the server's settings. Zero values take the documented defaults.
type Config struct {
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
	// MaxHeaderBytes bounds a request's header fields and target (default 32 KiB): 431 beyond.
	MaxHeaderBytes int
	// MaxActions bounds each action list of a flow (default flow.DefaultMaxActions).
	MaxActions int
	// RequestTimeout is every request's server-side deadline (default 10s).
	RequestTimeout time.Duration
	// LoginAttemptsPerAddress and LoginAttemptsPerUser bound login attempts per LoginWindow
	// (defaults 20 and 10 per minute).
	LoginAttemptsPerAddress int
	LoginAttemptsPerUser    int
	LoginWindow             time.Duration
	// TrustedProxies are the networks whose X-Forwarded-For is believed for the client address.
	TrustedProxies []netip.Prefix
	// CORSOrigins enables CORS for these origins ("*" for any). Empty: CORS is off.
	CORSOrigins []string
	// RequireIfMatch refuses changes of flows without If-Match (428).
	RequireIfMatch bool
	// Outbound sends every request flowbin makes on a customer's behalf (webhook_send, fetch); nil: a client
	// with the guard's defaults.
	Outbound *outbound.Client
	// WakeDeliverer, when not nil, is called once changes with outbound messages commit.
	WakeDeliverer func()
	// Execution bounds what an activeflow (and a simulation) may hold and grow to; zero fields take flow's
	// defaults (docs/execution.md). Its MaxActions is MaxActions above.
	Execution flow.Limits
	// IdempotencyTTL is how long answers to requests with an Idempotency-Key are replayed (default 24h).
	IdempotencyTTL time.Duration
	// IdempotencyWait is how long a request waits for another with the same Idempotency-Key to finish before
	// answering 409 (default 5s).
	IdempotencyWait time.Duration
	// FieldValidation is what unknown request fields do when the request does not say (?field_validation=):
	// "Strict", "Warn" (the default) or "Ignore".
	FieldValidation string
	// FlowCacheBytes bounds the cache of GET /v1.0/flows/{id} answers (default 64 MiB; negative: no cache). The
	// cache is used only while WatchChanges runs.
	FlowCacheBytes int64
	// DocsPersistAuthorization has Swagger UI (/docs) keep the credential given to Authorize in the browser's
	// localStorage, across reloads, where any script of the origin can read it. Off (the default), it lives in
	// the page's memory only.
	DocsPersistAuthorization bool
	// Metrics receives the server's measurements; nil: kept in a registry nobody serves.
	Metrics *metrics.Metrics
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 32 << 10
	}
	if c.MaxActions <= 0 {
		c.MaxActions = flow.DefaultMaxActions
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.LoginAttemptsPerAddress <= 0 {
		c.LoginAttemptsPerAddress = 20
	}
	if c.LoginAttemptsPerUser <= 0 {
		c.LoginAttemptsPerUser = 10
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = time.Minute
	}
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = 24 * time.Hour
	}
	if c.IdempotencyWait <= 0 {
		c.IdempotencyWait = 5 * time.Second
	}
	if c.FlowCacheBytes == 0 {
		c.FlowCacheBytes = 64 << 20
	}
	if c.Outbound == nil {
		c.Outbound = outbound.New(outbound.Config{})
	}
	return c
}

// Server implements gen.StrictServerInterface over a store.
type Server struct {
	cfg       Config
	store     *store.Store
	tokens    *auth.Tokens
	sealer    *auth.Sealer // of stored answers
	passwords *auth.Passwords
	log       *slog.Logger
	ops       map[string]*operation // by "METHOD /echo/path"
	specJSON  map[string]any
	docs      *docs
	console   *consoleFiles
	echo      *echo.Echo
	cache     *flowCache // nil: no cache
	fields    flow.FieldValidation
	users     *userStates
	// activeflows is the activeflow use case (package activeflow).
	activeflows *activeflow.Service
	metrics     *metrics.Metrics
	// cacheCounts are the flow cache's result counters, looked up once: GET by id is the hot path.
	cacheCounts struct{ hit, miss, bypass prometheus.Counter }
}

var _ gen.StrictServerInterface = (*Server)(nil)

// New builds the HTTP handler of flowbin.
func New(cfg Config, st *store.Store, tokens *auth.Tokens, passwords *auth.Passwords, log *slog.Logger) (*Server, error) {
	fields := flow.FieldsWarn
	if cfg.FieldValidation != "" {
		m, err := flow.ParseFieldValidation(cfg.FieldValidation)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		fields = m
	}
	// Every line the server logs is masked for credentials, whoever wrote it.
	log = slog.New(auth.NewRedactingHandler(log.Handler()))
	s := &Server{cfg: cfg.withDefaults(), store: st, tokens: tokens, sealer: tokens.Sealer(), passwords: passwords, log: log, metrics: cfg.Metrics}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	s.cacheCounts.hit = s.metrics.FlowCacheRequests.WithLabelValues("hit")
	s.cacheCounts.miss = s.metrics.FlowCacheRequests.WithLabelValues("miss")
	s.cacheCounts.bypass = s.metrics.FlowCacheRequests.WithLabelValues("bypass")
	s.cache = newFlowCache(s.cfg.FlowCacheBytes)
	if s.cache != nil {
		s.cache.evicted = s.metrics.FlowCacheEvictions.Inc
	}
	s.fields = fields
	s.users = newUserStates()
	s.activeflows = s.newActiveflows()
	spec, err := gen.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("server: load embedded spec: %w", err)
	}
	s.ops = operations(spec)
	if err := json.Unmarshal(flowbin.OpenAPIJSON(), &s.specJSON); err != nil {
		return nil, fmt.Errorf("server: spec as JSON: %w", err)
	}
	if s.docs, err = loadDocs(s.cfg.DocsPersistAuthorization); err != nil {
		return nil, err
	}
	if s.console, err = loadConsole(); err != nil {
		return nil, err
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.JSONSerializer = strictJSON{}
	e.IPExtractor = ipExtractor(s.cfg.TrustedProxies)
	// The order matters: the request id first so that everything after can log it; the measurement and the access
	// log outside recovery so that a panic is counted and logged as the 500 it becomes.
	e.Use(s.requestID, s.observe, s.accessLog, s.recoverPanic, s.securityHeaders)
	if len(s.cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  s.cfg.CORSOrigins,
			AllowHeaders:  []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-Request-Id"},
			ExposeHeaders: []string{"ETag", "X-Request-Id", "Retry-After", "Idempotent-Replayed", "Warning"},
		}))
	}
	// fieldValidation before validateRequest, which drops the unknown fields of the bodies it checks.
	e.Use(s.limitHeaders, s.refuseOptions, s.deadline, s.readBody, s.authenticate, s.fieldValidation, s.validateRequest,
		s.idempotency)
	gen.RegisterHandlers(e, gen.NewStrictHandler(s, nil))
	s.echo = e
	return s, nil
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// strictJSON is the JSON codec of Echo's binder: it refuses data after the first JSON value. Bodies bound to
// json.RawMessage (flow definitions) are taken as they are: package flow reads them, and reports syntax errors
// with their byte offset like every other problem.
type strictJSON struct{ echo.DefaultJSONSerializer }

func (strictJSON) Deserialize(c echo.Context, i any) error {
	if raw, ok := i.(*json.RawMessage); ok {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return badRequest(reasonInvalidBody, "could not read the request body")
		}
		*raw = b
		return nil
	}
	dec := json.NewDecoder(c.Request().Body)
	if err := dec.Decode(i); err != nil {
		return badRequest(reasonInvalidJSON, "the request body is not valid JSON: %s", jsonErrorText(err))
	}
	if dec.More() {
		return badRequest(reasonInvalidJSON, "the request body holds data after its JSON value")
	}
	return nil
}

func jsonErrorText(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s must be %s, not %s", typ.Field, typ.Type, typ.Value)
	case err == io.EOF:
		return "the body is empty"
	}
	return err.Error()
}

// ipExtractor believes X-Forwarded-For only from trusted proxies; otherwise the client address is the peer's.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{
			IP:   net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyClientIP
	keyPrincipal
)

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
			slog.String("method", req.Method),
			slog.String("route", c.Path()),
			slog.String("path", req.URL.Path),
			slog.Int("status", res.Status),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int64("bytes_out", res.Size),
			slog.String("client", c.RealIP()),
		}
		if q := redactQuery(req.URL.RawQuery); q != "" {
			attrs = append(attrs, slog.String("query", q))
		}
		s.log.LogAttrs(req.Context(), level, "request", attrs...)
		return nil
	}
}

// credentialParams are query parameters whose values never reach a log: every name that authentication reads
// (credential), compared as authentication compares them, after decoding.
var credentialParams = map[string]bool{"token": true, "accesskey": true}

// redactQuery is the query as the server reads it: each pair decoded (as url.ParseQuery decodes it, so that
// "%74oken" is "token"), the values of credential parameters and anything that looks like a token or key masked,
// then encoded again in one canonical way. Pairs that do not decode, which the server ignores, are logged as
// "(undecodable)".
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		rawName, rawValue, _ := strings.Cut(p, "=")
		name, err1 := url.QueryUnescape(rawName)
		value, err2 := url.QueryUnescape(rawValue)
		switch {
		case err1 != nil || err2 != nil || strings.Contains(p, ";"):
			parts[i] = "(undecodable)"
		case credentialParams[strings.ToLower(name)]:
			parts[i] = url.QueryEscape(auth.Redact(name)) + "=" + auth.Redacted
		default:
			parts[i] = url.QueryEscape(auth.Redact(name)) + "=" + url.QueryEscape(auth.Redact(value))
		}
	}
	return strings.Join(parts, "&")
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
		if !utf8.Valid(body) {
			return badRequest(reasonInvalidJSON, "the request body is not valid UTF-8")
		}
		if hasNULEscape(body) {
			return badRequest(reasonInvalidString, "strings must not contain the NUL character (\\u0000)")
		}
		return next(c)
	}
}

// hasNULEscape reports whether a JSON text contains the escape \u0000 (raw NUL bytes are not valid JSON).
func hasNULEscape(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+6]) == "0000" {
			return true
		}
		i++ // skip the escaped character
	}
	return false
}

// operation is what the server knows of a route of the spec.
type operation struct {
	id      string
	method  string
	path    string // the spec's path, with {params}
	route   *routers.Route
	public  bool // security: []
	hasBody bool
	// flowBody: the body is a flow definition, decoded and validated by package flow, which reports every
	// problem in document order; the OpenAPI validator leaves it alone.
	flowBody bool
	// idempotent: the operation accepts an Idempotency-Key.
	idempotent bool
	// fieldValidation: the operation takes ?field_validation=.
	fieldValidation bool
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// flowBodies are the request bodies that hold actions: package flow reads them.
var flowBodies = map[string]bool{
	"#/components/requestBodies/FlowBody":             true,
	"#/components/requestBodies/ActiveflowBody":       true,
	"#/components/requestBodies/InlineSimulationBody": true,
}

// operations indexes the spec's operations by method and Echo route path.
func operations(spec *openapi3.T) map[string]*operation {
	ops := make(map[string]*operation)
	for path, item := range spec.Paths.Map() {
		echoPath := pathParam.ReplaceAllString(path, ":$1")
		for method, op := range item.Operations() {
			o := &operation{id: op.OperationID, method: method, path: path,
				route: &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}}
			o.public = op.Security != nil && len(*op.Security) == 0
			if op.RequestBody != nil {
				o.hasBody = true
				o.flowBody = flowBodies[op.RequestBody.Ref]
			}
			o.idempotent = op.Parameters.GetByInAndName(openapi3.ParameterInHeader, headerIdempotencyKey) != nil
			o.fieldValidation = op.Parameters.GetByInAndName(openapi3.ParameterInQuery, paramFieldValid) != nil
			ops[method+" "+echoPath] = o
		}
	}
	return ops
}

func allowedMethods(ops map[string]*operation, echoPath string) string {
	var methods []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if _, ok := ops[m+" "+echoPath]; ok {
			methods = append(methods, m)
		}
	}
	return strings.Join(methods, ", ")
}

// operation returns the spec operation that the request was routed to, or nil (no such route).
func (s *Server) operation(c echo.Context) *operation {
	if op, ok := c.Get("flowbin.operation").(*operation); ok {
		return op
	}
	op := s.ops[c.Request().Method+" "+c.Path()]
	c.Set("flowbin.operation", op)
	return op
}
