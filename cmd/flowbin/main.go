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
//	flowbin healthcheck                exit 0 when the local server answers /healthz
//	flowbin call FLOW_ID|FLOW_FILE     call a flow on a server, as the phone (see call.go)
//
// Configuration comes from FLOWBIN_* environment variables; see the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "flowbin:", err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a command line that does not parse.
type usageError struct{ error }

// run is the whole program: main only wires it to the process. Tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := newLogger(cfg, stderr)
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, stdout)
	case "migrate":
		return migrate(ctx, cfg, log)
	case "user":
		return userCommand(ctx, cfg, log, args, stdin, stdout)
	case "healthcheck":
		return healthcheck(ctx, cfg)
	case "call":
		return runCall(ctx, args, getenv, stdin, stdout, stderr)
	default:
		return usageError{fmt.Errorf("unknown command %q; want serve, migrate, user, healthcheck or call", cmd)}
	}
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

func openStore(ctx context.Context, cfg config, log *slog.Logger, migrate bool) (*store.Store, error) {
	sc := cfg.storeConfig()
	sc.Migrate = migrate
	sc.Logger = log
	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return store.Open(openCtx, sc)
}

func migrate(ctx context.Context, cfg config, log *slog.Logger) error {
	st, err := openStore(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("database is up to date", "dialect", st.Dialect())
	return nil
}

func serve(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer) error {
	log.Info("starting flowbin", cfg.logAttrs()...)
	st, err := openStore(ctx, cfg, log, cfg.Migrate)
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
	if err := bootstrap(ctx, cfg, st, passwords, log); err != nil {
		return err
	}

	// Every request made on a customer's behalf goes through one guarded client; the deliverer sends the outbox
	// (events, webhook_send that does not wait), signed with the customer's secret, which the server opens.
	client := outbound.New(outbound.Config{Allow: cfg.OutboundAllow, Timeout: cfg.OutboundTimeout})
	var srv *server.Server
	deliverer := events.New(events.Config{RetryFor: cfg.EventsRetryFor}, st, client,
		func(ctx context.Context, id uuid.UUID) (string, error) { return srv.WebhookSecret(ctx, id) }, log)
	srv, err = server.New(server.Config{
		Outbound:                client,
		WakeDeliverer:           deliverer.Wake,
		MaxBodyBytes:            cfg.MaxBodyBytes,
		MaxHeaderBytes:          cfg.MaxHeaderBytes,
		MaxActions:              cfg.MaxActions,
		RequestTimeout:          cfg.RequestTimeout,
		LoginAttemptsPerAddress: cfg.LoginPerAddress,
		LoginAttemptsPerUser:    cfg.LoginPerUser,
		LoginWindow:             cfg.LoginWindow,
		TrustedProxies:          cfg.TrustedProxies,
		CORSOrigins:             cfg.CORSOrigins,
		RequireIfMatch:          cfg.RequireIfMatch,
		FieldValidation:         cfg.FieldValidation,
		Execution: flow.Limits{MaxExecuted: cfg.MaxExecuted, MaxControlSteps: cfg.MaxControlSteps,
			MaxVariables: cfg.MaxVariables, MaxVariableBytes: cfg.MaxVariableBytes, MaxVariablesBytes: cfg.MaxVariablesBytes,
			MaxOptionBytes: cfg.MaxOptionBytes, MaxStateBytes: cfg.MaxStateBytes},
		FlowCacheBytes:           flowCacheBytes(cfg.FlowCacheBytes),
		DocsPersistAuthorization: cfg.DocsPersistAuth,
	}, st, tokens, passwords, log)
	if err != nil {
		return err
	}
	// The flow cache is long-lived memory, and Go's collector lets the heap grow to twice what is live before it
	// collects. Unless the operator chose (GOMEMLIMIT), a soft limit of the cache's bound plus room for the rest
	// keeps the process near what it needs.
	if cfg.FlowCacheBytes > 0 && !cfg.GoMemLimitSet {
		debug.SetMemoryLimit(cfg.FlowCacheBytes + memoryHeadroom)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Slow clients are cut off by these timeouts. The header limit here is a backstop, far above the server's own
	// (FLOWBIN_MAX_HEADER_BYTES), which answers in the error envelope.
	httpServer := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: cfg.ReadHeaderTime,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.ReadTimeout + cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    max(1<<20, 4*cfg.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "flowbin listening on %s (API docs: %s/docs)\n", url, url)
	fmt.Fprintf(stdout, "log in: curl -s -X POST %s/auth/login -H 'Content-Type: application/json' -d '{\"username\":\"%s\",\"password\":\"…\"}'\n",
		url, cfg.AdminUsername)
	log.Info("listening", "addr", ln.Addr().String(), "dialect", st.Dialect())

	if cfg.PprofAddr != "" {
		if err := servePprof(ctx, cfg.PprofAddr, log); err != nil {
			return err
		}
	}
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
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
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

// bootstrap creates the first user when there is none, so that a fresh installation can be logged into.
func bootstrap(ctx context.Context, cfg config, st *store.Store, passwords *auth.Passwords, log *slog.Logger) error {
	password, generated := cfg.AdminPassword, false
	if password == "" {
		var err error
		if password, err = auth.NewPassword(); err != nil {
			return err
		}
		generated = true
	}
	hash, err := passwords.Hash(password)
	if err != nil {
		return fmt.Errorf("FLOWBIN_ADMIN_PASSWORD: %w", err)
	}
	created, err := st.Bootstrap(ctx, cfg.AdminCustomer, cfg.AdminUsername, hash)
	if err != nil {
		return err
	}
	switch {
	case created && generated:
		// The one time a password is logged: nobody could log in otherwise.
		log.Warn("created the first user with a random password; it is shown this once",
			"customer", cfg.AdminCustomer, "username", cfg.AdminUsername, "password", password)
	case created:
		log.Info("created the first user", "customer", cfg.AdminCustomer, "username", cfg.AdminUsername)
	}
	return nil
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

// flags parses a subcommand's flags, reporting problems as usage errors.
func flags(name string, args []string, define func(*flag.FlagSet)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	define(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{fmt.Errorf("%s: %w", name, err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))}
	}
	return nil
}

// servePprof serves Go's profiles on their own listener, never on the API's: an operator turns it on to measure.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("FLOWBIN_PPROF_ADDR: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() { _ = srv.Serve(ln) }()
	log.Info("serving profiles", "addr", ln.Addr().String())
	return nil
}
