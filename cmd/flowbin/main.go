// Command flowbin serves flowbin's REST API and manages its database and users.
//
//	flowbin [serve]                    serve the API (the default)
//	flowbin migrate                    apply database migrations, then exit
//	flowbin user add --customer NAME --username NAME --password-stdin
//	flowbin user list
//	flowbin user passwd --username NAME --password-stdin   (revokes the user's login tokens)
//	flowbin user logout --username NAME                     revoke the user's login tokens
//	flowbin user disable --username NAME                    revoke, refuse logins and the user's access keys
//	flowbin user enable --username NAME                     undo disable
//	flowbin user remove --username NAME                     remove the user (the customer and flows stay)
//	flowbin call FLOW_ID|FLOW_FILE     call a flow on a server, as the phone (see call.go)
//	flowbin version                    print the version
//	flowbin healthcheck                exit 0 when the local server answers /healthz
//
// Configuration comes from FLOWBIN_* environment variables: `flowbin --help` lists them (see settings).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/internal/metrics"
	"github.com/flowbin/flowbin/internal/tracing"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := &program{getenv: os.Getenv, environ: os.Environ(), stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	if err := p.run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "flowbin:", err)
		var usage usageError
		if errors.As(err, &usage) {
			fmt.Fprintln(os.Stderr, "run 'flowbin --help' for usage")
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a command line that does not parse.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// run is the whole program: main only wires it to the process. Tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	p := &program{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	return p.run(ctx, args)
}

// program is one run of flowbin: its environment and standard streams.
type program struct {
	getenv func(string) string
	// environ is the whole environment, to find FLOWBIN_* variables that are no setting; nil: not checked.
	environ        []string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// setup reads the configuration and makes the logger; every command that works on the database or serves calls
// it first, and nothing before it touches a file.
func (p *program) setup() (config, *slog.Logger, error) {
	cfg, err := loadConfig(p.getenv)
	if err != nil {
		return cfg, nil, fmt.Errorf("configuration: %w", err)
	}
	log := newLogger(cfg, p.stderr)
	for _, msg := range unknownSettings(p.environ) {
		log.Warn("unknown setting: " + msg)
	}
	return cfg, log, nil
}

// newLogger is the process's one logger: every line it writes, from any package, has credentials masked.
func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(auth.NewRedactingHandler(h))
}

func openStore(ctx context.Context, cfg config, log *slog.Logger, migrate bool, tr *tracing.Tracing) (*store.Store, error) {
	sc := cfg.storeConfig()
	sc.Migrate = migrate
	sc.Logger = log
	if tr != nil {
		sc.TracerProvider = tr.Provider()
	}
	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := store.Open(openCtx, sc)
	if errors.Is(err, store.ErrNotMigrated) {
		return nil, fmt.Errorf("%w; run `flowbin migrate` (or start with FLOWBIN_MIGRATE=true)", err)
	}
	return st, err
}

func migrate(ctx context.Context, cfg config, log *slog.Logger) error {
	st, err := openStore(ctx, cfg, log, true, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("database is up to date", "dialect", st.Dialect())
	return nil
}

func (p *program) serve(ctx context.Context, cfg config, log *slog.Logger) error {
	log.Info("starting flowbin", append([]any{"version", version()}, logAttrs(p.getenv)...)...)
	tr, err := tracing.Setup(ctx, p.getenv, version())
	if err != nil {
		return err
	}
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(shutdownCtx); err != nil {
			log.Warn("tracing shutdown", "err", err)
		}
	}()
	if tr.On() {
		log.Info("exporting traces", "endpoint", tr.Endpoint)
	}
	st, err := openStore(ctx, cfg, log, cfg.Migrate, tr)
	if err != nil {
		return err
	}
	defer func() {
		st.Close()
		log.Info("database pool closed")
	}()

	secret := cfg.JWTSecret
	if secret == "" {
		// Kept in the database so that every instance, and every restart, signs and verifies with the same key.
		secret, err = st.EnsureSetting(ctx, "jwt_secret", func() (string, error) { return auth.NewSecret(32) })
		if err != nil {
			return err
		}
	}
	tokens, err := auth.NewTokens([]byte(secret), cfg.TokenTTL)
	if err != nil {
		return err
	}
	passwords, err := auth.NewPasswords(cfg.BcryptCost)
	if err != nil {
		return err
	}
	m := metrics.New()
	if err := m.WatchDBPool(st.PoolStats); err != nil {
		return err
	}
	// Every request made on a customer's behalf goes through one guarded client; the deliverer sends the outbox
	// (events, webhook_send that does not wait), signed with the customer's secret, which the server opens.
	client := outbound.New(outbound.Config{Allow: cfg.OutboundAllow, Timeout: cfg.OutboundTimeout, Reserve: min(time.Second, cfg.RequestTimeout/4)})
	// Settings every instance on the database must share are compared with the others' (docs/operations.md).
	agree, err := newAgreement(st, log, m, sharedSettings(cfg.OutboundAllow, secret))
	if err != nil {
		return err
	}
	if err := agree.atStart(ctx); err != nil {
		return err
	}
	go agree.watch(ctx, agreementEvery)
	var srv *server.Server
	if err := m.WatchOutbox(func() (int64, error) { return st.OutboxDepth(context.Background()) }); err != nil {
		return err
	}
	if err := m.WatchOutboxDropped(st.OutboxDropped); err != nil {
		return err
	}
	deliverer := events.New(events.Config{RetryFor: cfg.EventsRetryFor, Workers: cfg.EventsWorkers,
		CustomerShare: min(cfg.EventsShare, max(1, cfg.EventsWorkers/2)),
		Observe:       func(msg *store.OutboxMessage, status int, err error) { m.ObserveDelivery(msg.EventType, status, err) }}, st, client,
		func(ctx context.Context, id uuid.UUID) (string, error) { return srv.WebhookSecret(ctx, id) }, log)
	srv, err = server.New(server.Config{
		Outbound:                 client,
		WakeDeliverer:            deliverer.Wake,
		FieldValidation:          cfg.FieldValidation,
		DocsPersistAuthorization: cfg.DocsPersistAuth,
		Execution: flow.Limits{MaxExecuted: cfg.MaxExecuted, MaxControlSteps: cfg.MaxControlSteps,
			MaxVariables: cfg.MaxVariables, MaxVariableBytes: cfg.MaxVariableBytes, MaxVariablesBytes: cfg.MaxVariablesBytes,
			MaxOptionBytes: cfg.MaxOptionBytes, MaxStateBytes: cfg.MaxStateBytes},
		MaxBodyBytes:            cfg.MaxBodyBytes,
		MaxHeaderBytes:          cfg.MaxHeaderBytes,
		MaxActions:              cfg.MaxActions,
		RequestTimeout:          cfg.RequestTimeout,
		LoginAttemptsPerAddress: cfg.LoginPerAddress,
		LoginAttemptsPerUser:    cfg.LoginPerUser,
		LoginWindow:             cfg.LoginWindow,
		TrustedProxies:          cfg.TrustedProxies,
		CORSOrigins:             cfg.CORSOrigins,
		ConsoleServers:          cfg.ConsoleServers,
		RequireIfMatch:          cfg.RequireIfMatch,
		FlowCacheBytes:          flowCacheBytes(cfg.FlowCacheBytes),
		Metrics:                 m,
		DataDir:                 cfg.DataDir,
	}, st, tokens, passwords, log)
	if err != nil {
		return err
	}
	// The flow cache is long-lived memory, and Go's collector lets the heap grow to twice what is live before it
	// collects. Unless the operator chose (GOMEMLIMIT), a soft limit of the cache's bound plus room for the rest
	// keeps the process near what it needs.
	if cfg.FlowCacheBytes > 0 && !cfg.GoMemLimitSet {
		debug.SetMemoryLimit(cfg.FlowCacheBytes + memoryHeadroom)
		// Under that limit, the collector need not run at every doubling of a small live heap: every request of
		// the API allocates briefly (decoding, encoding), and collections took a fifth of the CPU of writes and
		// steps in make bench. The limit, not GOGC, then bounds the heap. An operator's GOGC wins.
		if p.getenv("GOGC") == "" {
			debug.SetGCPercent(400)
		}
	}
	if cfg.PprofAddr != "" {
		if err := serveSide(ctx, "FLOWBIN_PPROF_ADDR", cfg.PprofAddr, pprofHandler(), log, "serving profiles"); err != nil {
			return err
		}
	}
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", m.Handler())
		if err := serveSide(ctx, "FLOWBIN_METRICS_ADDR", cfg.MetricsAddr, mux, log, "serving metrics"); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close() // Serve closes it too; this is for the returns before Serve
	// The first user is created only once every listener is bound: a start that fails (a port taken) must not
	// create it and spend its random password, which is shown once.
	hint, err := bootstrap(ctx, cfg, st, passwords, log)
	if err != nil {
		return err
	}
	// Slow clients are cut off by these timeouts. The header limit here is a backstop, far above the server's own
	// (FLOWBIN_MAX_HEADER_BYTES), which answers in the error envelope.
	httpServer := &http.Server{
		Handler:           tr.Handler(srv),
		ReadHeaderTimeout: cfg.ReadHeaderTime,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.ReadTimeout + cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    max(1<<20, 4*cfg.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// SIP starts before the API says it listens: a server that cannot take calls as configured does not start.
	runner, err := startSIP(ctx, cfg, srv, client, m, log)
	if err != nil {
		ln.Close()
		return err
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(p.stdout, "flowbin listening on %s (API docs: %s/docs)\n", url, url)
	fmt.Fprintln(p.stdout, hint.text(url))
	log.Info("listening", "addr", ln.Addr().String(), "dialect", st.Dialect())

	go sweep(ctx, st, log)
	go srv.WatchChanges(ctx)
	go deliverer.Run(ctx)
	errc := make(chan error, 1)
	go func() { errc <- httpServer.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if runner != nil {
		// New calls are refused at once; calls in progress may end by themselves until the timeout, and are hung
		// up then, their records and activeflows closed, while the database is still there.
		log.Info("shutting down: draining calls", "calls", runner.Active())
		if err := runner.Shutdown(shutdownCtx); err != nil {
			log.Warn("drain calls", "err", err)
		}
	}
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// startSIP starts the SIP runner when FLOWBIN_SIP_ADDR is set: it answers calls to numbers and direct hashes,
// places those of POST /v1.0/calls, and runs their flows in this process, through the server's telephony side.
func startSIP(ctx context.Context, cfg config, srv *server.Server, client *outbound.Client, m *metrics.Metrics,
	log *slog.Logger) (*sip.Runner, error) {
	if cfg.SIPAddr == "" {
		return nil, nil
	}
	// Recordings are kept relative to the data directory; the runner writes them at an absolute path under it.
	recordings, err := filepath.Abs(filepath.Join(cfg.DataDir, server.RecordingsDir))
	if err != nil {
		return nil, fmt.Errorf("FLOWBIN_DATA_DIR: %w", err)
	}
	tel := srv.Telephony()
	runner, err := sip.New(sip.Config{
		ListenAddr: cfg.SIPAddr, PublicAddr: cfg.SIPPublicAddr, RTPPortMin: cfg.RTPPortMin, RTPPortMax: cfg.RTPPortMax,
		Trunk: cfg.SIPTrunk, Directory: tel, Ledger: tel, Flows: tel, Fetch: client,
		RecordingDir: recordings,
		MaxCalls:     cfg.SIPMaxCalls, MaxCallsPerCustomer: cfg.SIPMaxCallsPerCustomer,
		Metrics: sip.NewMetrics(m.Registerer()), Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("FLOWBIN_SIP_ADDR: %w", err)
	}
	if err := runner.Start(ctx); err != nil {
		return nil, fmt.Errorf("FLOWBIN_SIP_ADDR: %w", err)
	}
	srv.SetCallRunner(runner)
	return runner, nil
}

// memoryHeadroom is the heap allowed beyond the flow cache's bound before the collector works harder.
const memoryHeadroom = 48 << 20

// flowCacheBytes maps FLOWBIN_FLOW_CACHE_BYTES to server.Config: there, 0 is the default and negative is off.
func flowCacheBytes(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// loginHint is the start-up line that says how to log in, as a user that exists.
type loginHint struct {
	username string
	// password says where the password is; the password itself is never printed on standard output.
	password string
}

func (h loginHint) text(url string) string {
	return fmt.Sprintf("log in as %s (password: %s): read -rs PASSWORD; curl -s -X POST %s/auth/login "+
		"-H 'Content-Type: application/json' -d '{\"username\":\"%s\",\"password\":\"'\"$PASSWORD\"'\"}'",
		h.username, h.password, url, h.username)
}

// bootstrap creates the first user when there is none, so that a fresh installation can be logged into, and
// returns the hint for a user that exists.
func bootstrap(ctx context.Context, cfg config, st *store.Store, passwords *auth.Passwords, log *slog.Logger) (loginHint, error) {
	password, generated := cfg.AdminPassword, false
	if password == "" {
		var err error
		if password, err = auth.NewPassword(); err != nil {
			return loginHint{}, err
		}
		generated = true
	}
	hash, err := passwords.Hash(password)
	if err != nil {
		return loginHint{}, fmt.Errorf("FLOWBIN_ADMIN_PASSWORD: %w", err)
	}
	created, err := st.Bootstrap(ctx, cfg.AdminCustomer, cfg.AdminUsername, hash)
	if err != nil {
		return loginHint{}, err
	}
	switch {
	case created && generated:
		// The one time a password is logged: nobody could log in otherwise.
		log.Warn("created the first user with a random password; it is shown this once",
			"customer", cfg.AdminCustomer, "username", cfg.AdminUsername, "password", password)
		return loginHint{cfg.AdminUsername, "the random one in the log above"}, nil
	case created:
		log.Info("created the first user", "customer", cfg.AdminCustomer, "username", cfg.AdminUsername)
		return loginHint{cfg.AdminUsername, "FLOWBIN_ADMIN_PASSWORD"}, nil
	}
	// Users existed: name the first user, unless the configured one exists (renamed admins are not named).
	users, err := st.ListUsers(ctx)
	if err != nil {
		return loginHint{}, err
	}
	hint := loginHint{password: "the one set for it"}
	for i, u := range users {
		if i == 0 || u.Username == cfg.AdminUsername {
			hint.username = u.Username
		}
	}
	return hint, nil
}

// sweep deletes expired state (rate-limit windows, idempotency records) every few minutes.
func sweep(ctx context.Context, st *store.Store, log *slog.Logger) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := st.Sweep(ctx); err != nil {
				log.Warn("sweep failed", "err", err)
			}
		}
	}
}

func healthcheck(ctx context.Context, cfg config) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("FLOWBIN_ADDR: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: status %d", res.StatusCode)
	}
	return nil
}

func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// serveSide serves an operator's handler (profiles, metrics) on its own listener, never on the API's: it is
// bound where only operators reach it, and a scrape or a profile does not compete with API clients for limits.
func serveSide(ctx context.Context, setting, addr string, h http.Handler, log *slog.Logger, msg string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", setting, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() { _ = srv.Serve(ln) }()
	log.Info(msg, "addr", ln.Addr().String())
	return nil
}
