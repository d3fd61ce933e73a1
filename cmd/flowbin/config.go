package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store"
)

// config is flowbin's configuration, read once from FLOWBIN_* environment variables. Secrets may also come from
// files named by the variable with _FILE appended.
type config struct {
	Addr            string
	DatabaseURL     string // secret: may hold a password
	DataDir         string
	Migrate         bool
	LogLevel        slog.Level
	LogFormat       string
	JWTSecret       string // secret
	TokenTTL        time.Duration
	AdminCustomer   string
	AdminUsername   string
	AdminPassword   string // secret
	BcryptCost      int
	MaxBodyBytes    int64
	MaxHeaderBytes  int
	ReadHeaderTime  time.Duration
	ReadTimeout     time.Duration
	IdleTimeout     time.Duration
	MaxActions      int
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	DBMaxConns      int
	LoginPerAddress int
	LoginPerUser    int
	LoginWindow     time.Duration
	TrustedProxies  []netip.Prefix
	CORSOrigins     []string
	RequireIfMatch  bool
	FieldValidation string
	MaxExecuted     int
	MaxControlSteps int
	// Execution limits (flow.Limits): variables, options after substitution, the stored state.
	MaxVariables      int
	MaxVariableBytes  int
	MaxVariablesBytes int
	MaxOptionBytes    int
	MaxStateBytes     int
	PprofAddr         string
	FlowCacheBytes    int64
	DocsPersistAuth   bool // Swagger UI keeps the credential in localStorage
	OutboundAllow     outbound.Allow
	OutboundTimeout   time.Duration
	EventsRetryFor    time.Duration
	GoMemLimitSet     bool // GOMEMLIMIT is set: the operator chose the Go runtime's memory limit
}

// configVars documents every variable, in the order the README lists them.
var configVars = []struct{ name, def, help string }{
	{"FLOWBIN_ADDR", "127.0.0.1:8080", "address to listen on"},
	{"FLOWBIN_DATABASE_URL", "", "postgres://… for PostgreSQL; empty for the embedded SQLite file"},
	{"FLOWBIN_DATA_DIR", ".", "directory of the SQLite file flowbin.db"},
	{"FLOWBIN_MIGRATE", "true", "apply database migrations at start"},
	{"FLOWBIN_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"FLOWBIN_LOG_FORMAT", "text", "text or json"},
	{"FLOWBIN_JWT_SECRET", "", "token signing secret (at least 32 bytes); empty: generated once and kept in the database"},
	{"FLOWBIN_TOKEN_TTL", "168h", "lifetime of login tokens"},
	{"FLOWBIN_ADMIN_CUSTOMER", "default", "customer of the first user, created when there is no user"},
	{"FLOWBIN_ADMIN_USERNAME", "admin", "name of the first user"},
	{"FLOWBIN_ADMIN_PASSWORD", "", "password of the first user; empty: random, printed once in the log"},
	{"FLOWBIN_BCRYPT_COST", "10", "bcrypt cost of password hashes"},
	{"FLOWBIN_MAX_BODY_BYTES", "1048576", "largest request body"},
	{"FLOWBIN_MAX_HEADER_BYTES", "32768", "largest request header fields and target"},
	{"FLOWBIN_MAX_ACTIONS", "1000", "most actions in one action list"},
	{"FLOWBIN_REQUEST_TIMEOUT", "10s", "server-side deadline of every request"},
	{"FLOWBIN_SHUTDOWN_TIMEOUT", "20s", "how long SIGTERM waits for in-flight requests"},
	{"FLOWBIN_READ_HEADER_TIMEOUT", "5s", "how long a client may take to send its request headers"},
	{"FLOWBIN_READ_TIMEOUT", "30s", "how long a client may take to send its whole request"},
	{"FLOWBIN_IDLE_TIMEOUT", "2m", "how long an idle keep-alive connection stays open"},
	{"FLOWBIN_FLOW_CACHE_BYTES", "67108864", "memory for cached GET /v1.0/flows/{id} answers, dropped on every change by any instance (LISTEN/NOTIFY); 0: no cache"},
	{"FLOWBIN_DB_MAX_CONNS", "0", "connection pool size; 0: 16 on PostgreSQL, 8 on SQLite"},
	{"FLOWBIN_LOGIN_ATTEMPTS_PER_ADDRESS", "20", "login attempts per client address per window"},
	{"FLOWBIN_LOGIN_ATTEMPTS_PER_USER", "10", "login attempts per username per window"},
	{"FLOWBIN_LOGIN_WINDOW", "1m", "login rate-limit window"},
	{"FLOWBIN_TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-For is trusted"},
	{"FLOWBIN_CORS_ORIGINS", "", "comma-separated origins allowed by CORS (\"*\" for any); empty: CORS off"},
	{"FLOWBIN_REQUIRE_IF_MATCH", "false", "refuse changes of flows without If-Match (428)"},
	{"FLOWBIN_FIELD_VALIDATION", "Warn", "unknown request fields when a request has no ?field_validation=: Warn (dropped, reported in Warning headers), Strict (400) or Ignore (dropped silently)"},
	{"FLOWBIN_MAX_EXECUTED_ACTIONS", "100", "most actions one activeflow runs"},
	{"FLOWBIN_MAX_CONTROL_STEPS", "50", "most control actions an activeflow runs in a row, with no runner action between"},
	{"FLOWBIN_MAX_VARIABLES", "100", "most variables one activeflow holds"},
	{"FLOWBIN_MAX_VARIABLE_BYTES", "32768", "largest value of one variable"},
	{"FLOWBIN_MAX_VARIABLES_BYTES", "65536", "most bytes an activeflow's variables take, names and values together"},
	{"FLOWBIN_MAX_OPTION_BYTES", "65536", "largest options of an action once ${variables} are substituted"},
	{"FLOWBIN_MAX_STATE_BYTES", "2097152", "largest stored state of an activeflow: its actions, what it ran, its variables"},
	{"FLOWBIN_PPROF_ADDR", "", "address of a separate listener serving Go's profiles (net/http/pprof); empty: off"},
	{"FLOWBIN_OUTBOUND_ALLOW", "", "comma-separated CIDRs or host:port that outbound requests (webhook_send, fetch, events) may reach although they are loopback, private or link-local"},
	{"FLOWBIN_OUTBOUND_TIMEOUT", "5s", "time limit of one outbound request"},
	{"FLOWBIN_EVENTS_RETRY_FOR", "24h", "how long an undelivered event or webhook_send is retried"},
	{"FLOWBIN_DOCS_PERSIST_AUTHORIZATION", "false", "Swagger UI (/docs) keeps the credential given to Authorize in the browser's localStorage, across reloads; false: in the page's memory only"},
}

// secretVars may be given through files (NAME_FILE), and are masked in logs.
var secretVars = map[string]bool{
	"FLOWBIN_DATABASE_URL": true, "FLOWBIN_JWT_SECRET": true, "FLOWBIN_ADMIN_PASSWORD": true,
}

type env struct {
	getenv func(string) string
	errs   []error
}

// get returns the variable's value, from NAME_FILE for secrets when that is set, else its default.
func (e *env) get(name string) string {
	if secretVars[name] {
		if path := e.getenv(name + "_FILE"); path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				e.errs = append(e.errs, fmt.Errorf("%s_FILE: %w", name, err))
				return ""
			}
			return strings.TrimRight(string(b), "\r\n")
		}
	}
	if v := e.getenv(name); v != "" {
		return v
	}
	for _, v := range configVars {
		if v.name == name {
			return v.def
		}
	}
	return ""
}

func (e *env) duration(name string) time.Duration {
	d, err := time.ParseDuration(e.get(name))
	if err != nil || d <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not a positive duration such as 10s or 168h", name, e.get(name)))
	}
	return d
}

func (e *env) integer(name string, lo int64) int64 {
	n, err := strconv.ParseInt(e.get(name), 10, 64)
	if err != nil || n < lo {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not an integer of at least %d", name, e.get(name), lo))
	}
	return n
}

func (e *env) boolean(name string) bool {
	b, err := strconv.ParseBool(e.get(name))
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not true or false", name, e.get(name)))
	}
	return b
}

func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func loadConfig(getenv func(string) string) (config, error) {
	e := &env{getenv: getenv}
	c := config{
		Addr:              e.get("FLOWBIN_ADDR"),
		DatabaseURL:       e.get("FLOWBIN_DATABASE_URL"),
		DataDir:           e.get("FLOWBIN_DATA_DIR"),
		Migrate:           e.boolean("FLOWBIN_MIGRATE"),
		LogFormat:         e.get("FLOWBIN_LOG_FORMAT"),
		JWTSecret:         e.get("FLOWBIN_JWT_SECRET"),
		TokenTTL:          e.duration("FLOWBIN_TOKEN_TTL"),
		AdminCustomer:     e.get("FLOWBIN_ADMIN_CUSTOMER"),
		AdminUsername:     e.get("FLOWBIN_ADMIN_USERNAME"),
		AdminPassword:     e.get("FLOWBIN_ADMIN_PASSWORD"),
		BcryptCost:        int(e.integer("FLOWBIN_BCRYPT_COST", 4)),
		MaxBodyBytes:      e.integer("FLOWBIN_MAX_BODY_BYTES", 1024),
		MaxHeaderBytes:    int(e.integer("FLOWBIN_MAX_HEADER_BYTES", 4096)),
		ReadHeaderTime:    e.duration("FLOWBIN_READ_HEADER_TIMEOUT"),
		ReadTimeout:       e.duration("FLOWBIN_READ_TIMEOUT"),
		IdleTimeout:       e.duration("FLOWBIN_IDLE_TIMEOUT"),
		MaxActions:        int(e.integer("FLOWBIN_MAX_ACTIONS", 1)),
		RequestTimeout:    e.duration("FLOWBIN_REQUEST_TIMEOUT"),
		ShutdownTimeout:   e.duration("FLOWBIN_SHUTDOWN_TIMEOUT"),
		DBMaxConns:        int(e.integer("FLOWBIN_DB_MAX_CONNS", 0)),
		LoginPerAddress:   int(e.integer("FLOWBIN_LOGIN_ATTEMPTS_PER_ADDRESS", 1)),
		LoginPerUser:      int(e.integer("FLOWBIN_LOGIN_ATTEMPTS_PER_USER", 1)),
		LoginWindow:       e.duration("FLOWBIN_LOGIN_WINDOW"),
		CORSOrigins:       list(e.get("FLOWBIN_CORS_ORIGINS")),
		RequireIfMatch:    e.boolean("FLOWBIN_REQUIRE_IF_MATCH"),
		FieldValidation:   e.get("FLOWBIN_FIELD_VALIDATION"),
		MaxExecuted:       int(e.integer("FLOWBIN_MAX_EXECUTED_ACTIONS", 1)),
		MaxControlSteps:   int(e.integer("FLOWBIN_MAX_CONTROL_STEPS", 1)),
		MaxVariables:      int(e.integer("FLOWBIN_MAX_VARIABLES", 1)),
		MaxVariableBytes:  int(e.integer("FLOWBIN_MAX_VARIABLE_BYTES", 1)),
		MaxVariablesBytes: int(e.integer("FLOWBIN_MAX_VARIABLES_BYTES", 1)),
		MaxOptionBytes:    int(e.integer("FLOWBIN_MAX_OPTION_BYTES", 1)),
		MaxStateBytes:     int(e.integer("FLOWBIN_MAX_STATE_BYTES", 1)),
		PprofAddr:         e.get("FLOWBIN_PPROF_ADDR"),
		FlowCacheBytes:    e.integer("FLOWBIN_FLOW_CACHE_BYTES", 0),
		DocsPersistAuth:   e.boolean("FLOWBIN_DOCS_PERSIST_AUTHORIZATION"),
		OutboundTimeout:   e.duration("FLOWBIN_OUTBOUND_TIMEOUT"),
		EventsRetryFor:    e.duration("FLOWBIN_EVENTS_RETRY_FOR"),
		GoMemLimitSet:     getenv("GOMEMLIMIT") != "",
	}
	if err := c.LogLevel.UnmarshalText([]byte(e.get("FLOWBIN_LOG_LEVEL"))); err != nil {
		e.errs = append(e.errs, fmt.Errorf("FLOWBIN_LOG_LEVEL: %w", err))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		e.errs = append(e.errs, fmt.Errorf("FLOWBIN_LOG_FORMAT: %q is not text or json", c.LogFormat))
	}
	if _, err := flow.ParseFieldValidation(c.FieldValidation); err != nil {
		e.errs = append(e.errs, fmt.Errorf("FLOWBIN_FIELD_VALIDATION: %w", err))
	}
	if c.BcryptCost > 31 {
		e.errs = append(e.errs, errors.New("FLOWBIN_BCRYPT_COST: at most 31"))
	}
	for _, p := range list(e.get("FLOWBIN_TRUSTED_PROXIES")) {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("FLOWBIN_TRUSTED_PROXIES: %w", err))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	if allow, err := outbound.ParseAllow(e.get("FLOWBIN_OUTBOUND_ALLOW")); err != nil {
		e.errs = append(e.errs, fmt.Errorf("FLOWBIN_OUTBOUND_ALLOW: %w", err))
	} else {
		c.OutboundAllow = allow
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		e.errs = append(e.errs, errors.New("FLOWBIN_JWT_SECRET: at least 32 bytes"))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") &&
		!strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		e.errs = append(e.errs, fmt.Errorf("FLOWBIN_DATABASE_URL: want postgres://… (or empty for SQLite), got %s",
			store.RedactURL(c.DatabaseURL)))
	}
	return c, errors.Join(e.errs...)
}

func (c config) storeConfig() store.Config {
	return store.Config{
		URL:        c.DatabaseURL,
		SQLitePath: filepath.Join(c.DataDir, "flowbin.db"),
		Migrate:    c.Migrate,
		MaxConns:   c.DBMaxConns,
	}
}

// logAttrs is the effective configuration for the start-up log line, with secrets masked.
func (c config) logAttrs() []any {
	mask := func(s string) string {
		if s == "" {
			return "(unset)"
		}
		return "(set)"
	}
	db := "sqlite:" + filepath.Join(c.DataDir, "flowbin.db")
	if c.DatabaseURL != "" {
		db = store.RedactURL(c.DatabaseURL)
	}
	return []any{
		"addr", c.Addr, "database", db, "migrate", c.Migrate, "log_level", c.LogLevel.String(),
		"log_format", c.LogFormat, "jwt_secret", mask(c.JWTSecret), "token_ttl", c.TokenTTL.String(),
		"admin_customer", c.AdminCustomer, "admin_username", c.AdminUsername,
		"admin_password", mask(c.AdminPassword), "bcrypt_cost", c.BcryptCost, "max_body_bytes", c.MaxBodyBytes, "max_header_bytes", c.MaxHeaderBytes,
		"read_header_timeout", c.ReadHeaderTime.String(), "read_timeout", c.ReadTimeout.String(),
		"idle_timeout", c.IdleTimeout.String(),
		"max_actions", c.MaxActions, "request_timeout", c.RequestTimeout.String(),
		"shutdown_timeout", c.ShutdownTimeout.String(), "db_max_conns", c.DBMaxConns,
		"login_attempts_per_address", c.LoginPerAddress, "login_attempts_per_user", c.LoginPerUser,
		"login_window", c.LoginWindow.String(), "trusted_proxies", fmt.Sprint(c.TrustedProxies),
		"cors_origins", strings.Join(c.CORSOrigins, ","), "require_if_match", c.RequireIfMatch,
		"field_validation", c.FieldValidation,
		"max_executed_actions", c.MaxExecuted, "max_control_steps", c.MaxControlSteps,
		"max_variables", c.MaxVariables, "max_variable_bytes", c.MaxVariableBytes,
		"max_variables_bytes", c.MaxVariablesBytes, "max_option_bytes", c.MaxOptionBytes,
		"max_state_bytes", c.MaxStateBytes,
		"pprof_addr", c.PprofAddr, "docs_persist_authorization", c.DocsPersistAuth,
		"outbound_allow", fmt.Sprint(c.OutboundAllow.Prefixes, c.OutboundAllow.HostPorts), "outbound_timeout", c.OutboundTimeout.String(),
		"events_retry_for", c.EventsRetryFor.String(),
	}
}
