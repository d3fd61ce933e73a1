// Command bench measures flowbin against the database's own limit on the same machine, and writes the report to
// bench/results/. Run it from the repository root (make bench does):
//
//	go run ./bench
//
// It creates a PostgreSQL database of its own (dropped at the end, also on failure or Ctrl-C), builds flowbin,
// seeds 100,000 realistic flows of 4 customers, and drives flowbin with 32 keep-alive connections: GET of a flow
// (beside pgbench's point read and beside a bare Echo handler answering the same body), the first page and a page
// 1,000 flows deep, POST and PUT (beside pgbench running the same insert and update SQL), and calls: activeflows
// started (beside pgbench inserting an equal state row), stepped with /next (beside pgbench reading and updating
// an equal state row in one transaction), an IVR driven end to end, and a 100-step call whose 100th step is
// compared with its 1st. Then a soak watches the server's memory, and the GET is repeated on the embedded SQLite
// store. The report's targets table is added to the chart of every report kept in bench/results/ (ratios.svg).
//
// Environment: BENCH_DURATION (each measurement, default 10s, after a 3s warm-up), BENCH_SOAK (default 60s),
// BENCH_PG_URL (the server to use; default postgres://postgres@127.0.0.1:5432/test, whose database is only
// used to create and drop the benchmark's own), BENCH_PPROF (an address for flowbin's FLOWBIN_PPROF_ADDR),
// BENCH_FLOWBIN_ENV (more NAME=value settings of flowbin's process, separated by spaces, to try one out).
//
// It exits 0 when the benchmark ran, whether or not the targets were met (the report says PASS or FAIL), and
// non-zero only when it could not run.
package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowbin/flowbin/flow"
)

func main() {
	if path := os.Getenv(echoBodyEnv); path != "" { // this program, run again as the bare Echo server
		if err := serveBareEcho(path); err != nil {
			fmt.Fprintln(os.Stderr, "bench: bare Echo server:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	run := run
	if len(os.Args) > 1 && os.Args[1] == "sip" { // go run ./bench sip: the calls bench (sip.go)
		run = runSIPBench
	}
	err := run(ctx)
	stop()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	adminURL string
	warmup   time.Duration
	duration time.Duration
	soak     time.Duration
	pprof    string
	// serverEnv are more settings of flowbin's process (BENCH_FLOWBIN_ENV, NAME=value separated by spaces), for
	// trying a setting out: FLOWBIN_DB_MAX_CONNS=32 GOGC=200. The report says which.
	serverEnv []string
}

func loadConfig() (config, error) {
	cfg := config{
		adminURL: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		warmup:   3 * time.Second,
		duration: 10 * time.Second,
		soak:     60 * time.Second,
	}
	if v := os.Getenv("BENCH_PG_URL"); v != "" {
		cfg.adminURL = v
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"BENCH_DURATION", &cfg.duration}, {"BENCH_SOAK", &cfg.soak}, {"BENCH_WARMUP", &cfg.warmup}} {
		v := os.Getenv(d.name)
		if v == "" {
			continue
		}
		if _, err := strconv.Atoi(v); err == nil { // plain seconds
			v += "s"
		}
		p, err := time.ParseDuration(v)
		if err != nil || p < 0 || (p == 0 && d.name != "BENCH_WARMUP") {
			return cfg, fmt.Errorf("%s=%q: want a duration such as 15s", d.name, os.Getenv(d.name))
		}
		*d.dst = p
	}
	for _, kv := range strings.Fields(os.Getenv("BENCH_FLOWBIN_ENV")) {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return cfg, fmt.Errorf("BENCH_FLOWBIN_ENV: want NAME=value pairs separated by spaces, not %q", kv)
		}
		cfg.serverEnv = append(cfg.serverEnv, kv)
	}
	if v := os.Getenv("BENCH_PPROF"); v != "" {
		cfg.pprof = v
		if !strings.Contains(v, ":") { // BENCH_PPROF=1: the usual local port
			cfg.pprof = "127.0.0.1:6060"
		}
	}
	return cfg, nil
}

var started = time.Now()

// logf reports progress on stderr, with the time since the start.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%5.0fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if _, err := os.Stat("cmd/flowbin"); err != nil {
		return errors.New("run from the repository root (make bench, or go run ./bench)")
	}
	tmp, err := os.MkdirTemp("", "flowbin-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// The benchmark's own database, dropped on every way out of run (signals cancel ctx and come back here).
	dbName := "flowbin_bench_" + randomHex()
	dbURL, err := withDatabase(cfg.adminURL, dbName)
	if err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, cfg.adminURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL at %s: %w (is it up? make bench starts it)", redact(cfg.adminURL), err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	logf("created database %s", dbName)
	var dropped bool
	drop := func() {
		if dropped {
			return
		}
		dropped = true
		dropCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(dropCtx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)"); err != nil {
			logf("could not drop database %s: %v", dbName, err)
			return
		}
		logf("dropped database %s", dbName)
	}
	defer drop()

	rep := &report{cfg: cfg, started: time.Now().UTC(), warnings: map[string]int{}}
	rep.commitShort, rep.commitFull = commit()
	rep.machine = machineInfo(ctx, admin)

	bin := filepath.Join(tmp, "flowbin")
	logf("building flowbin")
	if err := buildFlowbin(ctx, bin); err != nil {
		return err
	}

	if err := benchPostgres(ctx, cfg, rep, bin, tmp, dbURL); err != nil {
		return err
	}
	// Dropped now, so that PostgreSQL's clean-up of the writes (autovacuum) does not share the CPUs with the
	// SQLite measurement.
	drop()
	if err := benchSQLite(ctx, cfg, rep, bin, tmp); err != nil {
		return err
	}
	rep.took = time.Since(started)
	rep.loadEnd = loadAverage()

	text := rep.markdown()
	fmt.Println()
	fmt.Print(text)
	path, err := rep.write(text)
	if err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	logf("report written to %s", path)
	chart, err := writeChart(resultsDir)
	if err != nil {
		return fmt.Errorf("draw the chart: %w", err)
	}
	logf("chart of every report's ratios written to %s", chart)
	return nil
}

// benchPostgres runs every PostgreSQL measurement: flowbin's scenarios, pgbench's references, peak RSS, soak.
func benchPostgres(ctx context.Context, cfg config, rep *report, bin, tmp, dbURL string) error {
	fb := &flowbin{bin: bin, dbURL: dbURL, logPath: filepath.Join(tmp, "flowbin-postgres.log"),
		extra: append([]string{"FLOWBIN_MAX_EXECUTED_ACTIONS=" + strconv.Itoa(longMaxExecuted),
			"FLOWBIN_OUTBOUND_ALLOW=127.0.0.1/32"}, cfg.serverEnv...)} // the events' receiver is the bench's own
	if err := fb.run(ctx, "", "migrate"); err != nil {
		return err
	}
	logf("seeding PostgreSQL: %s flows of %d customers, with their revision 1", thousands(totalFlows), customers)
	t := time.Now()
	if err := seedPostgres(ctx, dbURL); err != nil {
		return err
	}
	logf("seeded in %s", time.Since(t).Round(100*time.Millisecond))
	rep.pgSeed = time.Since(t)

	srv, a, err := startAndLogin(ctx, fb, cfg)
	if err != nil {
		return err
	}
	defer srv.stop()

	// The deep page starts below the 1,000th newest flow of customer 1: its tm_create is the page token.
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	var deepAt time.Time
	defer conn.Close(context.Background())
	err = conn.QueryRow(ctx, `SELECT tm_create FROM flows WHERE customer_id = $1 AND tm_delete IS NULL
		ORDER BY tm_create DESC, id DESC OFFSET 999 LIMIT 1`, customerID(0)).Scan(&deepAt)
	if err != nil {
		return fmt.Errorf("find the deep page token: %w", err)
	}
	pageToken := deepAt.UTC().Format(flow.TimeLayout)
	rep.pageToken = pageToken

	if err := checkPostgresAPI(ctx, a, pageToken, rep); err != nil {
		return fmt.Errorf("sanity check before measuring: %w", err)
	}
	sc := newScenarios(a, pageToken)

	// Reads first, on the data set as seeded (pgbench's and flowbin's alike); then writes.
	pgDefines := []string{"customer=" + customerID(0).String()}
	template := seededDefinition(customerFlow(perCustomer / 2)) // an average flow, for pgbench's inserts
	insertDefines := slices.Concat(pgDefines, []string{"author=" + seedAuthor.String(), "name=bench insert",
		"detail=" + template.Detail, "actions=" + string(template.actionsJSON())})
	pgbenchStep := func(run pgbenchRun) func() (Result, error) {
		return func() (Result, error) { return runPgbench(ctx, tmp, dbURL, run, cfg.warmup, cfg.duration) }
	}
	flowbinStep := func(s scenario) func() (Result, error) {
		return func() (Result, error) { return measure(ctx, a, s, cfg.warmup, cfg.duration) }
	}
	putDef := genDefinition(1<<41, "") // the first of PUT's definitions
	updateDefines := slices.Concat(pgDefines, []string{"author=" + seedAuthor.String(), "name=bench update ",
		"detail=" + putDef.Detail, "actions=" + string(putDef.actionsJSON()), "any=true", "revisions={}"})
	c := &calls{ctx: ctx, cfg: cfg, rep: rep, a: a, conn: conn, tmp: tmp, dbURL: dbURL}
	steps := []struct {
		label string
		do    func() (Result, error)
		dst   *Result
	}{
		{"pgbench: point read", pgbenchStep(pgbenchRun{Name: "pgbench: SELECT one flow by id", Script: "read.sql",
			Defines: pgDefines}), &rep.pgRead},
		{"flowbin: GET by id, cold cache", func() (Result, error) { return measure(ctx, a, sc.getCold, 0, cfg.duration) },
			&rep.getCold},
		{"flowbin: a pass reading each of customer 1's flows once", func() (Result, error) {
			var err error
			rep.warmed, err = readEach(ctx, a, sc.ids)
			return Result{}, err
		}, nil},
		{"flowbin: GET by id", flowbinStep(sc.get), &rep.get},
		{"a bare Echo handler answering a flow's body", c.bareEcho, &rep.echoGet},
		{"flowbin: first page", flowbinStep(sc.first), &rep.first},
		{"flowbin: deep page", flowbinStep(sc.deep), &rep.deep},
		{"pgbench: insert", pgbenchStep(pgbenchRun{Name: "pgbench: INSERT a flow and its revision",
			Script: "insert.sql", Defines: insertDefines}), &rep.pgInsert},
		{"flowbin: POST", flowbinStep(sc.post), &rep.post},
		{"pgbench: update", pgbenchStep(pgbenchRun{Name: "pgbench: UPDATE a flow and INSERT its revision",
			Script: "update.sql", Defines: updateDefines}), &rep.pgUpdate},
		{"flowbin: PUT", flowbinStep(sc.put), &rep.put},
		{"flowbin: the flows of the calls, one call of each driven and checked", c.setUp, nil},
		{"pgbench: a call's insert", c.pgStart, &rep.pgStart},
		{"flowbin: a call starts", c.start, &rep.start},
		{"pgbench: a step's read + update", c.pgStep, &rep.pgStep},
		{"flowbin: a step of the started calls", c.steps, &rep.steps.steps},
		{"flowbin: IVR calls end to end", c.ivrCalls, &rep.ivr.steps},
		{"flowbin: IVR calls end to end, with a customer webhook", c.outboxCalls, &rep.outbox.steps},
		{"flowbin: 100-step calls", c.longCalls, &rep.long.steps},
		{"flowbin: a flow's stats over 100,000 executions", c.flowStats, &rep.stats},
		{"console: a 200-action flow's page in Chromium", c.consoleFlow, &rep.console},
	}
	for _, s := range steps {
		logf("measuring %s (%s + %s warm-up)", s.label, cfg.duration, cfg.warmup)
		r, err := s.do()
		if err != nil {
			return err
		}
		if err := srv.alive(); err != nil {
			return err
		}
		if s.dst == nil {
			continue
		}
		*s.dst = r
		logf("  %.0f/s, p50 %s, p99 %s %s%s", r.Rate(), ms(r.P50), ms(r.P99), cpuNote(r), errorNote(r))
	}

	// The soak: GET by id for BENCH_SOAK, RSS every second.
	logf("soak: GET by id for %s, sampling the server's RSS every second", cfg.soak)
	first, err := procKB(srv.pid(), "VmRSS")
	if err != nil {
		return err
	}
	rep.soakRSS = []int64{first}
	soakSc := sc.get
	soakSc.name = "soak: GET /v1.0/flows/{id}"
	rep.soak, err = drive(ctx, a, soakSc, cfg.soak, func(int) {
		if kb, err := procKB(srv.pid(), "VmRSS"); err == nil {
			rep.soakRSS = append(rep.soakRSS, kb)
		}
	})
	if err != nil {
		return err
	}
	if kb, err := procKB(srv.pid(), "VmRSS"); err == nil {
		rep.soakRSS = append(rep.soakRSS, kb)
	}
	if rep.peakKB, err = procKB(srv.pid(), "VmHWM"); err != nil {
		return err
	}
	logf("  %.0f/s; RSS %d → %d MiB; peak %d MiB", rep.soak.Rate(), rep.soakRSS[0]/1024,
		rep.soakRSS[len(rep.soakRSS)-1]/1024, rep.peakKB/1024)
	if err := srv.alive(); err != nil {
		return err
	}
	srv.stop()
	rep.pgLog = tail(fb.logPath, 10)
	rep.pgLogLines = countLines(fb.logPath)
	return nil
}

// benchSQLite repeats GET by id on flowbin's embedded SQLite store, seeded with the same data set.
func benchSQLite(ctx context.Context, cfg config, rep *report, bin, tmp string) error {
	dir := filepath.Join(tmp, "sqlite")
	fb := &flowbin{bin: bin, dataDir: dir, logPath: filepath.Join(tmp, "flowbin-sqlite.log"), extra: cfg.serverEnv}
	if err := fb.run(ctx, "", "migrate"); err != nil {
		return err
	}
	logf("seeding SQLite: %s flows", thousands(totalFlows))
	t := time.Now()
	if err := seedSQLite(ctx, filepath.Join(dir, "flowbin.db"), totalFlows); err != nil {
		return fmt.Errorf("seed SQLite: %w", err)
	}
	rep.sqliteSeed = time.Since(t)
	logf("seeded in %s", rep.sqliteSeed.Round(100*time.Millisecond))
	srv, a, err := startAndLogin(ctx, fb, cfg)
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := checkFlow(ctx, a, perCustomer); err != nil {
		return fmt.Errorf("sanity check on SQLite: %w", err)
	}
	sc := newScenarios(a, "")
	sc.get.name = "GET /v1.0/flows/{id} on SQLite"
	logf("reading each of customer 1's flows once")
	if rep.sqliteWarmed, err = readEach(ctx, a, sc.ids); err != nil {
		return err
	}
	logf("measuring flowbin on SQLite: GET by id (%s + %s warm-up)", cfg.duration, cfg.warmup)
	if rep.sqliteGet, err = measure(ctx, a, sc.get, cfg.warmup, cfg.duration); err != nil {
		return err
	}
	if err := srv.alive(); err != nil {
		return err
	}
	logf("  %.0f/s, p50 %s, p99 %s %s%s", rep.sqliteGet.Rate(), ms(rep.sqliteGet.P50), ms(rep.sqliteGet.P99),
		cpuNote(rep.sqliteGet), errorNote(rep.sqliteGet))
	if kb, err := procKB(srv.pid(), "VmHWM"); err == nil {
		rep.sqlitePeakKB = kb
	}
	srv.stop()
	rep.sqliteLog = tail(fb.logPath, 10)
	rep.sqliteLogLines = countLines(fb.logPath)
	return nil
}

// startAndLogin adds the benchmark's user (of customer 1), starts flowbin and logs in.
func startAndLogin(ctx context.Context, fb *flowbin, cfg config) (*server, *api, error) {
	if err := fb.run(ctx, benchPassword+"\n", "user", "add", "--customer", customerNames[0],
		"--username", benchUser, "--password-stdin"); err != nil {
		return nil, nil, err
	}
	srv, err := fb.start(ctx, cfg.pprof)
	if err != nil {
		return nil, nil, err
	}
	client := newClient()
	token, err := login(ctx, client, srv.base)
	if err != nil {
		srv.stop()
		return nil, nil, err
	}
	logf("flowbin listening on %s, logged in as %s", srv.base, benchUser)
	return srv, &api{base: srv.base, token: token, client: client, pid: srv.pid()}, nil
}

// scenarios are the measured requests, all as customer 1's user.
type scenarios struct {
	getCold, get, first, deep, post, put scenario
	ids                                  []string // customer 1's flows
}

func newScenarios(a *api, pageToken string) scenarios {
	ids := make([]string, perCustomer) // customer 1's flows
	for k := 1; k <= perCustomer; k++ {
		ids[k-1] = flowID(customerFlow(k)).String()
	}
	// POST bodies: flows like the seeded ones, with fresh action ids, taken in turn.
	postBodies := make([][]byte, 64)
	for i := range postBodies {
		postBodies[i] = genDefinition(1<<40+uint64(i), fmt.Sprintf("bench flow %d", i)).body()
	}
	// PUT bodies: alternating definitions, and a name unique to each request, so that every PUT changes the
	// flow (an identical PUT writes nothing).
	putRests := make([][]byte, 16)
	for i := range putRests {
		def := genDefinition(1<<41+uint64(i), "")
		b := (&definition{Detail: def.Detail, Actions: def.Actions}).body()
		putRests[i] = b[len(`{"name":"",`):] // the body after its (empty) name
	}
	get := func(ctx context.Context, rng *rand.Rand, _ uint64) *http.Request {
		return a.request(ctx, http.MethodGet, "/v1.0/flows/"+ids[rng.IntN(len(ids))], nil)
	}
	return scenarios{
		ids:     ids,
		getCold: scenario{"GET /v1.0/flows/{id}, cold cache (from start)", get},
		get:     scenario{"GET /v1.0/flows/{id}", get},
		first: scenario{"GET /v1.0/flows (first page)", func(ctx context.Context, _ *rand.Rand, _ uint64) *http.Request {
			return a.request(ctx, http.MethodGet, "/v1.0/flows", nil)
		}},
		deep: scenario{"GET /v1.0/flows?page_token= (1,000 deep)", func(ctx context.Context, _ *rand.Rand, _ uint64) *http.Request {
			return a.request(ctx, http.MethodGet, "/v1.0/flows?page_token="+url.QueryEscape(pageToken), nil)
		}},
		post: scenario{"POST /v1.0/flows", func(ctx context.Context, _ *rand.Rand, seq uint64) *http.Request {
			return a.request(ctx, http.MethodPost, "/v1.0/flows", postBodies[seq%uint64(len(postBodies))])
		}},
		put: scenario{"PUT /v1.0/flows/{id}", func(ctx context.Context, rng *rand.Rand, seq uint64) *http.Request {
			body := append([]byte(`{"name":"bench update `+strconv.FormatUint(seq, 10)+`",`), putRests[seq%uint64(len(putRests))]...)
			return a.request(ctx, http.MethodPut, "/v1.0/flows/"+ids[rng.IntN(len(ids))], body)
		}},
	}
}

// withDatabase is the URL of another database on the same server.
func withDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("BENCH_PG_URL: want postgres://…, not %q", redact(raw))
	}
	u.Path = "/" + name
	return u.String(), nil
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return 0
	}
	return strings.Count(strings.TrimRight(string(b), "\n"), "\n") + 1
}
