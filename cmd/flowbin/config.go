package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"

	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store"
)

// config is flowbin's configuration, read once from FLOWBIN_* environment variables (see settings). Secrets may
// also come from files named by the variable with _FILE appended.
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
	ConsoleServers  []string
	RequireIfMatch  bool
	MaxExecuted     int
	MaxControlSteps int
	// Execution limits (flow.Limits): variables, options after substitution, the stored state.
	MaxVariables      int
	MaxVariableBytes  int
	MaxVariablesBytes int
	MaxOptionBytes    int
	MaxStateBytes     int
	FieldValidation   string
	DocsPersistAuth   bool // Swagger UI keeps the credential in localStorage
	OutboundAllow     outbound.Allow
	OutboundTimeout   time.Duration
	EventsRetryFor    time.Duration
	EventsMaxPending  int
	EventsWorkers     int
	EventsShare       int
	PprofAddr         string
	MetricsAddr       string
	FlowCacheBytes    int64
	GoMemLimitSet     bool // GOMEMLIMIT is set: the operator chose the Go runtime's memory limit
	// SIP (issue 26): unset SIPAddr means no SIP.
	SIPAddr, SIPPublicAddr, SIPTrunk    string
	RTPPortMin, RTPPortMax              int
	SIPMaxCalls, SIPMaxCallsPerCustomer int
}

// setting is one configuration variable. The table below is the only place a setting is written down: it drives
// loading, the masked start-up log, `flowbin --help` and the README's table (TestREADMEConfiguration).
type setting struct {
	name string
	def  string
	// help is Markdown (the README's table); --help prints it without backticks.
	help string
	// secret: masked in the log, and may be read from the file named by NAME_FILE.
	secret bool
	// parse checks the value (the default when unset) and stores it in the config.
	parse func(c *config, v string) error
	// show is the value in the start-up log; nil: the value itself, or (set)/(unset) for secrets.
	show func(v string) string
}

// settings are flowbin's configuration variables, in the order the README and --help list them.
var settings = []setting{
	{name: "FLOWBIN_ADDR", def: "127.0.0.1:8080", help: "address to listen on",
		parse: text(func(c *config) *string { return &c.Addr })},
	{name: "FLOWBIN_DATABASE_URL", secret: true,
		help: "`postgres://…` for PostgreSQL; empty for the embedded SQLite file",
		parse: func(c *config, v string) error {
			if v != "" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
				return fmt.Errorf("want postgres://… (or empty for SQLite), got %s", store.RedactURL(v))
			}
			c.DatabaseURL = v
			return nil
		},
		show: func(v string) string {
			if v == "" {
				return "(unset: SQLite)"
			}
			return store.RedactURL(v)
		}},
	{name: "FLOWBIN_DATA_DIR", def: ".", help: "directory of the SQLite file `flowbin.db`",
		parse: text(func(c *config) *string { return &c.DataDir })},
	{name: "FLOWBIN_MIGRATE", def: "true",
		help:  "apply database migrations at start (`flowbin migrate` applies them alone)",
		parse: boolean(func(c *config) *bool { return &c.Migrate })},
	{name: "FLOWBIN_LOG_LEVEL", def: "info", help: "`debug`, `info`, `warn` or `error`",
		parse: func(c *config, v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }},
	{name: "FLOWBIN_LOG_FORMAT", def: "text", help: "`text` or `json`",
		parse: func(c *config, v string) error {
			if v != "text" && v != "json" {
				return fmt.Errorf("%q is not text or json", v)
			}
			c.LogFormat = v
			return nil
		}},
	{name: "FLOWBIN_JWT_SECRET", secret: true,
		help: "token signing secret, at least 32 bytes; empty: generated once and kept in the database, so that every instance and restart agree",
		parse: func(c *config, v string) error {
			if v != "" && len(v) < 32 {
				return errors.New("at least 32 bytes")
			}
			c.JWTSecret = v
			return nil
		}},
	{name: "FLOWBIN_TOKEN_TTL", def: "168h", help: "lifetime of login tokens",
		parse: duration(func(c *config) *time.Duration { return &c.TokenTTL })},
	{name: "FLOWBIN_ADMIN_CUSTOMER", def: "default", help: "customer of the first user, created when there is no user",
		parse: text(func(c *config) *string { return &c.AdminCustomer })},
	{name: "FLOWBIN_ADMIN_USERNAME", def: "admin", help: "name of the first user",
		parse: text(func(c *config) *string { return &c.AdminUsername })},
	{name: "FLOWBIN_ADMIN_PASSWORD", secret: true,
		help:  "password of the first user; empty: random, printed once in the log",
		parse: text(func(c *config) *string { return &c.AdminPassword })},
	{name: "FLOWBIN_BCRYPT_COST", def: "10", help: "bcrypt cost of password hashes (4 to 31)",
		parse: integer(4, 31, func(c *config) *int { return &c.BcryptCost })},
	{name: "FLOWBIN_MAX_BODY_BYTES", def: itoa(server.DefaultMaxBodyBytes), help: "largest request body (413 beyond)",
		parse: integer(1024, 1<<40, func(c *config) *int64 { return &c.MaxBodyBytes })},
	{name: "FLOWBIN_MAX_HEADER_BYTES", def: itoa(server.DefaultMaxHeaderBytes), help: "largest request header fields and target (431 beyond)",
		parse: integer(4096, 1<<30, func(c *config) *int { return &c.MaxHeaderBytes })},
	{name: "FLOWBIN_MAX_ACTIONS", def: itoa(flow.DefaultMaxActions), help: "most actions in one action list",
		parse: integer(1, 1<<30, func(c *config) *int { return &c.MaxActions })},
	{name: "FLOWBIN_REQUEST_TIMEOUT", def: durationText(server.DefaultRequestTimeout), help: "server-side deadline of every request",
		parse: duration(func(c *config) *time.Duration { return &c.RequestTimeout })},
	{name: "FLOWBIN_SHUTDOWN_TIMEOUT", def: "20s", help: "how long SIGTERM waits for in-flight requests",
		parse: duration(func(c *config) *time.Duration { return &c.ShutdownTimeout })},
	{name: "FLOWBIN_READ_HEADER_TIMEOUT", def: "5s",
		help:  "how long a client may take to send its request headers (slow clients are cut off)",
		parse: duration(func(c *config) *time.Duration { return &c.ReadHeaderTime })},
	{name: "FLOWBIN_READ_TIMEOUT", def: "30s", help: "how long a client may take to send its whole request",
		parse: duration(func(c *config) *time.Duration { return &c.ReadTimeout })},
	{name: "FLOWBIN_IDLE_TIMEOUT", def: "2m", help: "how long an idle keep-alive connection stays open",
		parse: duration(func(c *config) *time.Duration { return &c.IdleTimeout })},
	{name: "FLOWBIN_FLOW_CACHE_BYTES", def: itoa(server.DefaultFlowCacheBytes),
		help:  "memory for cached `GET /v1.0/flows/{id}` answers, dropped on every change by any instance (LISTEN/NOTIFY); 0: no cache",
		parse: integer(0, 1<<50, func(c *config) *int64 { return &c.FlowCacheBytes })},
	{name: "FLOWBIN_DB_MAX_CONNS", def: "0", help: "connection pool size; 0: 16 on PostgreSQL, 8 on SQLite",
		parse: integer(0, 1<<20, func(c *config) *int { return &c.DBMaxConns })},
	{name: "FLOWBIN_LOGIN_ATTEMPTS_PER_ADDRESS", def: itoa(server.DefaultLoginAttemptsPerAddress),
		help:  "login attempts per client address per window (then 429 with `Retry-After`)",
		parse: integer(1, 1<<30, func(c *config) *int { return &c.LoginPerAddress })},
	{name: "FLOWBIN_LOGIN_ATTEMPTS_PER_USER", def: itoa(server.DefaultLoginAttemptsPerUser), help: "login attempts per username per window",
		parse: integer(1, 1<<30, func(c *config) *int { return &c.LoginPerUser })},
	{name: "FLOWBIN_LOGIN_WINDOW", def: durationText(server.DefaultLoginWindow), help: "login rate-limit window",
		parse: duration(func(c *config) *time.Duration { return &c.LoginWindow })},
	{name: "FLOWBIN_TRUSTED_PROXIES",
		help: "comma-separated CIDRs whose `X-Forwarded-For` is trusted for the client address",
		parse: func(c *config, v string) error {
			for _, p := range list(v) {
				prefix, err := netip.ParsePrefix(p)
				if err != nil {
					return err
				}
				c.TrustedProxies = append(c.TrustedProxies, prefix)
			}
			return nil
		}},
	{name: "FLOWBIN_CORS_ORIGINS",
		help: "comma-separated origins allowed by CORS (`*` for any); empty: CORS off",
		parse: func(c *config, v string) error {
			c.CORSOrigins = list(v)
			return nil
		}},
	{name: "FLOWBIN_CONSOLE_SERVERS",
		help: "comma-separated origins of other flowbin servers the console (`/console`) may log in to, such as `https://flowbin.example` or `http://127.0.0.1:*`; with the CORS origins they are the only ones its Content-Security-Policy lets it reach; empty: this server only",
		parse: func(c *config, v string) error {
			for _, o := range list(v) {
				if !consoleOrigin.MatchString(o) {
					return fmt.Errorf("%q is not an origin such as https://flowbin.example or http://127.0.0.1:*", o)
				}
				c.ConsoleServers = append(c.ConsoleServers, o)
			}
			return nil
		}},
	{name: "FLOWBIN_REQUIRE_IF_MATCH", def: "false",
		help:  "refuse changes of flows (PUT, DELETE, restore) without `If-Match`: 428",
		parse: boolean(func(c *config) *bool { return &c.RequireIfMatch })},
	{name: "FLOWBIN_MAX_EXECUTED_ACTIONS", def: itoa(flow.DefaultMaxExecuted),
		help:  "most actions one activeflow (or simulation) runs; then it ends with `executed_action_limit`",
		parse: integer(1, 1<<30, func(c *config) *int { return &c.MaxExecuted })},
	{name: "FLOWBIN_MAX_CONTROL_STEPS", def: itoa(flow.DefaultMaxControlSteps),
		help:  "most control actions an activeflow runs in a row, with no runner action between; then it ends with `control_step_limit`",
		parse: integer(1, 1<<30, func(c *config) *int { return &c.MaxControlSteps })},
	{name: "FLOWBIN_MAX_VARIABLES", def: itoa(flow.DefaultMaxVariables),
		help:  "most variables one activeflow holds (VoIPbin's limit); more in a request: 400",
		parse: integer(1, 1<<20, func(c *config) *int { return &c.MaxVariables })},
	{name: "FLOWBIN_MAX_VARIABLE_BYTES", def: itoa(flow.DefaultMaxVariableBytes), help: "largest value of one variable",
		parse: integer(1, 1<<30, func(c *config) *int { return &c.MaxVariableBytes })},
	{name: "FLOWBIN_MAX_VARIABLES_BYTES", def: itoa(flow.DefaultMaxVariablesBytes),
		help:  "most bytes of an activeflow's variables, names and values together",
		parse: integer(1, 1<<30, func(c *config) *int { return &c.MaxVariablesBytes })},
	{name: "FLOWBIN_MAX_OPTION_BYTES", def: itoa(flow.DefaultMaxOptionBytes),
		help:  "largest options of an action once `${variables}` are substituted; past it the activeflow ends with `option_limit`",
		parse: integer(1, 1<<30, func(c *config) *int { return &c.MaxOptionBytes })},
	{name: "FLOWBIN_MAX_STATE_BYTES", def: itoa(flow.DefaultMaxStateBytes),
		help:  "largest hot state of an activeflow (cursor, variables, loop counts, and the actions of its frames; not its history); past it the activeflow ends with `state_limit`",
		parse: integer(1, 1<<40, func(c *config) *int { return &c.MaxStateBytes })},
	{name: "FLOWBIN_FIELD_VALIDATION", def: server.DefaultFieldValidation.String(),
		help: "unknown request fields when a request has no `?field_validation=`: `Warn` (dropped, reported in `Warning` headers), `Strict` (400) or `Ignore` (dropped silently)",
		parse: func(c *config, v string) error {
			if _, err := flow.ParseFieldValidation(v); err != nil {
				return err
			}
			c.FieldValidation = v
			return nil
		}},
	{name: "FLOWBIN_OUTBOUND_ALLOW",
		help: "comma-separated CIDRs or `host:port` that outbound requests (`webhook_send`, `fetch`, events) may reach although they are loopback, private or link-local",
		parse: func(c *config, v string) error {
			allow, err := outbound.ParseAllow(v)
			c.OutboundAllow = allow
			return err
		}},
	{name: "FLOWBIN_OUTBOUND_TIMEOUT", def: durationText(outbound.DefaultTimeout), help: "time limit of one outbound request",
		parse: duration(func(c *config) *time.Duration { return &c.OutboundTimeout })},
	{name: "FLOWBIN_EVENTS_RETRY_FOR", def: durationText(events.DefaultRetryFor), help: "how long an undelivered event or `webhook_send` is retried",
		parse: duration(func(c *config) *time.Duration { return &c.EventsRetryFor })},
	{name: "FLOWBIN_EVENTS_MAX_PENDING", def: itoa(store.DefaultOutboxMaxPending), help: "messages (events, `webhook_send`) one customer may have waiting for delivery; more are recorded as `dropped`, never sent",
		parse: integer(1, 1<<30, func(c *config) *int { return &c.EventsMaxPending })},
	{name: "FLOWBIN_EVENTS_WORKERS", def: itoa(events.DefaultWorkers), help: "outbound deliveries one instance makes at once; one customer holds at most `FLOWBIN_EVENTS_CUSTOMER_SHARE` of them",
		parse: integer(2, 1<<16, func(c *config) *int { return &c.EventsWorkers })},
	{name: "FLOWBIN_EVENTS_CUSTOMER_SHARE", def: itoa(events.DefaultCustomerShare), help: "deliveries of one customer in flight at once, across all instances (and to one of its destinations); at most half of `FLOWBIN_EVENTS_WORKERS` is used. A server with a single customer may raise it",
		parse: integer(1, 1<<16, func(c *config) *int { return &c.EventsShare })},
	{name: "FLOWBIN_DOCS_PERSIST_AUTHORIZATION", def: "false",
		help:  "Swagger UI (`/docs`) keeps the credential given to Authorize in the browser's localStorage, across reloads; `false`: in the page's memory only",
		parse: boolean(func(c *config) *bool { return &c.DocsPersistAuth })},
	{name: "FLOWBIN_METRICS_ADDR",
		help:  "address of a separate listener serving Prometheus metrics (`/metrics`); empty: off",
		parse: text(func(c *config) *string { return &c.MetricsAddr })},
	{name: "FLOWBIN_PPROF_ADDR",
		help:  "address of a separate listener serving Go's profiles (`/debug/pprof/`); empty: off",
		parse: text(func(c *config) *string { return &c.PprofAddr })},
	{name: "FLOWBIN_SIP_ADDR",
		help:  "IP address and port to take and place calls on, over UDP and TCP, such as `127.0.0.1:5060`; empty: no SIP (`POST /v1.0/calls` answers 503)",
		parse: text(func(c *config) *string { return &c.SIPAddr })},
	{name: "FLOWBIN_SIP_PUBLIC_ADDR",
		help:  "host or `host:port` written in SIP Contact headers and SDP, when peers reach flowbin at another address than `FLOWBIN_SIP_ADDR` (NAT); empty: that address",
		parse: text(func(c *config) *string { return &c.SIPPublicAddr })},
	{name: "FLOWBIN_RTP_PORTS", def: "20000-20999", help: "UDP port range of the calls' audio, `first-last`",
		parse: func(c *config, v string) error {
			lo, hi, ok := strings.Cut(v, "-")
			first, err1 := strconv.Atoi(strings.TrimSpace(lo))
			last, err2 := strconv.Atoi(strings.TrimSpace(hi))
			if !ok || err1 != nil || err2 != nil || first < 1024 || last > 65535 || last <= first {
				return fmt.Errorf("%q is not a port range such as 20000-20999", v)
			}
			c.RTPPortMin, c.RTPPortMax = first, last
			return nil
		}},
	{name: "FLOWBIN_SIP_TRUNK",
		help:  "`host[:port]` of the SIP trunk that `tel` destinations of `POST /v1.0/calls` are dialled through; empty: `tel` destinations answer 400",
		parse: text(func(c *config) *string { return &c.SIPTrunk })},
	{name: "FLOWBIN_SIP_MAX_CALLS", def: "1000", help: "most calls in progress on this instance; beyond, new calls are refused (SIP 503)",
		parse: integer(1, 1<<20, func(c *config) *int { return &c.SIPMaxCalls })},
	{name: "FLOWBIN_SIP_MAX_CALLS_PER_CUSTOMER", def: "200", help: "most calls in progress of one customer on this instance; beyond, new calls are refused (SIP 486)",
		parse: integer(1, 1<<20, func(c *config) *int { return &c.SIPMaxCallsPerCustomer })},
}

// itoa and durationText write a package's default as the table shows it, so that each default is written once,
// beside the code that applies it.
func itoa[T int | int64](n T) string { return strconv.FormatInt(int64(n), 10) }

// durationText is d as a setting is written: "1m" and "24h" rather than "1m0s" and "24h0m0s".
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// consoleOrigin is an origin as a Content-Security-Policy source names it: a scheme, a host (its first label may
// be *) and an optional port (or *).
var consoleOrigin = regexp.MustCompile(`^https?://(\*\.)?[A-Za-z0-9.-]+(:(\d{1,5}|\*))?$`)

func text(field func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error {
		*field(c) = v
		return nil
	}
}

func duration(field func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a positive duration such as 10s or 168h", v)
		}
		*field(c) = d
		return nil
	}
}

func integer[T int | int64](lo, hi int64, field func(*config) *T) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%q is not an integer from %d to %d", v, lo, hi)
		}
		*field(c) = T(n)
		return nil
	}
}

func boolean(field func(*config) *bool) func(*config, string) error {
	return func(c *config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*field(c) = b
		return nil
	}
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

// value is a setting's raw value: from NAME_FILE for secrets when that is set, else the variable, else its default.
func (s setting) value(getenv func(string) string) (string, error) {
	if s.secret {
		if path := getenv(s.name + "_FILE"); path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("%s_FILE: %w", s.name, err)
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}
	}
	if v := getenv(s.name); v != "" {
		return v, nil
	}
	return s.def, nil
}

// loadConfig reads every setting. It reports every bad setting at once.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	for _, s := range settings {
		v, err := s.value(getenv)
		if err == nil {
			if err = s.parse(&c, v); err != nil {
				err = fmt.Errorf("%s: %w", s.name, err)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	c.GoMemLimitSet = getenv("GOMEMLIMIT") != ""
	return c, errors.Join(errs...)
}

// unknownSettings names the FLOWBIN_* variables of the environment that are no setting (a misspelling is
// otherwise silently ignored), each with the closest setting's name when one is near.
func unknownSettings(environ []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "FLOWBIN_") || knownSetting(name) {
			continue
		}
		msg := name + " is not a flowbin setting"
		if near := closestSetting(name); near != "" {
			msg += "; did you mean " + near + "?"
		}
		out = append(out, msg)
	}
	slices.Sort(out)
	return out
}

func knownSetting(name string) bool {
	for _, s := range settings {
		if name == s.name || (s.secret && name == s.name+"_FILE") {
			return true
		}
	}
	return false
}

// closestSetting is the setting nearest to name by edit distance, when it is near enough to be a typo.
func closestSetting(name string) string {
	best, bestDist := "", 0
	for _, s := range settings {
		candidates := []string{s.name}
		if s.secret {
			candidates = append(candidates, s.name+"_FILE")
		}
		for _, cand := range candidates {
			if d := levenshtein.ComputeDistance(name, cand); best == "" || d < bestDist {
				best, bestDist = cand, d
			}
		}
	}
	if bestDist > max(2, len(strings.TrimPrefix(name, "FLOWBIN_"))/3) {
		return ""
	}
	return best
}

func (c config) storeConfig() store.Config {
	return store.Config{
		URL:        c.DatabaseURL,
		SQLitePath: c.sqlitePath(),
		Migrate:    c.Migrate,
		MaxConns:   c.DBMaxConns,

		OutboxMaxPending: c.EventsMaxPending,
	}
}

func (c config) sqlitePath() string { return filepath.Join(c.DataDir, "flowbin.db") }

// logAttrs is the effective configuration for the start-up log line, every setting with secrets masked.
func logAttrs(getenv func(string) string) []any {
	attrs := make([]any, 0, 2*len(settings))
	for _, s := range settings {
		v, _ := s.value(getenv)
		switch {
		case s.show != nil:
			v = s.show(v)
		case s.secret && v == "":
			v = "(unset)"
		case s.secret:
			v = "(set)"
		}
		attrs = append(attrs, strings.ToLower(strings.TrimPrefix(s.name, "FLOWBIN_")), v)
	}
	return attrs
}
