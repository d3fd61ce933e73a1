// Package server is flowbin's HTTP layer: it implements the strict server generated from openapi.yaml and keeps
// to HTTP concerns (credentials, validation, errors, logs). The rules live in package flow, the data in store.
package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	flowbin "github.com/flowbin/flowbin"
	"github.com/flowbin/flowbin/activeflow"
	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/internal/metrics"
	"github.com/flowbin/flowbin/mcp"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store"
)

// The server's defaults, written here once: withDefaults applies them, and cmd/flowbin's settings table shows and
// documents them (its --help and the README's table read these values).
const (
	DefaultMaxBodyBytes            = 1 << 20
	DefaultMaxHeaderBytes          = 32 << 10
	DefaultRequestTimeout          = 10 * time.Second
	DefaultLoginAttemptsPerAddress = 20
	DefaultLoginAttemptsPerUser    = 10
	DefaultLoginWindow             = time.Minute
	DefaultIdempotencyTTL          = 24 * time.Hour
	DefaultIdempotencyWait         = 5 * time.Second
	DefaultFlowCacheBytes          = 64 << 20
	DefaultFieldValidation         = flow.FieldsWarn
	// mcpEnvelopeBytes is what an MCP request may hold beyond a tool's API body (the JSON-RPC envelope).
	mcpEnvelopeBytes = 64 << 10
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
	// ConsoleServers are the origins of other flowbin servers that the console may log in to: with CORSOrigins,
	// they are the pages' Content-Security-Policy connect-src besides this server ("http://127.0.0.1:*" style
	// wildcards allowed).
	ConsoleServers []string
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
	// DataDir is the data directory: recordings' files are under it.
	DataDir string
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxActions <= 0 {
		c.MaxActions = flow.DefaultMaxActions
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.LoginAttemptsPerAddress <= 0 {
		c.LoginAttemptsPerAddress = DefaultLoginAttemptsPerAddress
	}
	if c.LoginAttemptsPerUser <= 0 {
		c.LoginAttemptsPerUser = DefaultLoginAttemptsPerUser
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = DefaultLoginWindow
	}
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if c.IdempotencyWait <= 0 {
		c.IdempotencyWait = DefaultIdempotencyWait
	}
	if c.FlowCacheBytes == 0 {
		c.FlowCacheBytes = DefaultFlowCacheBytes
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
	// The embedded pages and their files (one asset handler: assets.go).
	docs, console         *assetSet
	docsPage, consolePage *asset
	echo                  *echo.Echo
	cache                 *flowCache // nil: no cache
	fields                flow.FieldValidation
	users                 *userStates
	// activeflows is the activeflow use case (package activeflow).
	activeflows *activeflow.Service
	metrics     *metrics.Metrics
	runner      atomic.Pointer[runnerBox] // the SIP runner (telephony.go); nil: none
	// cacheCounts are the flow cache's result counters, looked up once: GET by id is the hot path.
	cacheCounts struct{ hit, miss, bypass prometheus.Counter }
}

var _ gen.StrictServerInterface = (*Server)(nil)

// New builds the HTTP handler of flowbin.
func New(cfg Config, st *store.Store, tokens *auth.Tokens, passwords *auth.Passwords, log *slog.Logger) (*Server, error) {
	fields := DefaultFieldValidation
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
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("server: load embedded spec: %w", err)
	}
	if s.ops, err = operations(spec, gen.ServerOverlay); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(flowbin.OpenAPIJSON(), &s.specJSON); err != nil {
		return nil, fmt.Errorf("server: spec as JSON: %w", err)
	}
	origins := append(slices.Clone(s.cfg.CORSOrigins), s.cfg.ConsoleServers...)
	if s.docs, s.docsPage, err = loadDocs(s.cfg.DocsPersistAuthorization, pageCSP(origins, false)); err != nil {
		return nil, err
	}
	if s.console, s.consolePage, err = loadConsole(pageCSP(origins, true)); err != nil {
		return nil, err
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.JSONSerializer = strictJSON{}
	e.IPExtractor = ipExtractor(s.cfg.TrustedProxies)
	// The middleware chain, outermost first. The request id comes first so that everything after can log it; the
	// measurement and the access log stand outside recovery so that a panic is counted and logged as the 500 it
	// becomes; CORS answers preflight requests before OPTIONS is refused; the deadline covers all that does work;
	// fieldValidation runs before validateRequest, which drops the unknown fields of the bodies it checks.
	e.Use(
		s.requestID,
		s.observe,
		s.accessLog,
		s.recoverPanic,
		s.securityHeaders,
		s.cors(),
		s.limitHeaders,
		s.refuseOptions,
		s.deadline,
		s.readBody,
		s.authenticate,
		s.fieldValidation,
		s.validateRequest,
		s.idempotency,
	)
	gen.RegisterHandlers(e, gen.NewStrictHandler(s, nil))
	// MCP for AI agents: each tool call is a request to this handler, with the caller's credential (package mcp).
	mcpHandler, err := mcp.Handler(http.HandlerFunc(s.ServeHTTP), mcp.HandlerConfig{MaxBodyBytes: s.cfg.MaxBodyBytes + mcpEnvelopeBytes})
	if err != nil {
		return nil, err
	}
	e.Any("/mcp", echo.WrapHandler(mcpHandler))
	s.echo = e
	return s, nil
}

// ServeHTTP makes the server an http.Handler. HEAD is answered wherever GET is (headAsGet).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, headAsGet(r)) }

// cors is Echo's CORS middleware for the configured origins, or nothing when CORS is off.
func (s *Server) cors() echo.MiddlewareFunc {
	if len(s.cfg.CORSOrigins) == 0 {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins: s.cfg.CORSOrigins,
		AllowHeaders: []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-Request-Id",
			"Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-Id"}, // the last three: MCP clients in browsers (/mcp)
		ExposeHeaders: []string{"ETag", "X-Request-Id", "Retry-After", "Idempotent-Replayed", "Warning", "Mcp-Session-Id"},
	})
}

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
