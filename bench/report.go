package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Targets (issue 17). RSS is in MiB (the kB of /proc are KiB).
const (
	targetGetRatio   = 1.0 // cached GET by id, of pgbench's point-read rate
	targetEchoRatio  = 0.7 // cached GET by id, of a bare Echo handler's rate
	targetDeepCost   = 1.2 // deep page cost (1/rate), of the first page's
	targetWriteRatio = 0.6 // POST, PUT, a call's start and a step, of their pgbench reference's rate
	targetLongStep   = 1.2 // the 100th step's latency, of the 1st step's
	// targetLongAnswer bounds the 100th step's answer, of the 1st step's: "no larger", but for the digits of the
	// step number and the loop count that the answer carries (a few bytes in a few hundred).
	targetLongAnswer  = 1.02
	targetPeakMiB     = 200
	targetSoakGrowth  = 10.0 // percent
	targetSQLiteRatio = 0.5  // SQLite GET, of PostgreSQL GET
	targetOutboxCost  = 1.2  // an IVR call's steps with a customer webhook (events written and sent), of their cost without
	resultsDir        = "bench/results"
	dateLayout        = "2006-01-02 15:04:05 MST"
)

// The targets table's first two columns: what is measured, and what it is compared with. The chart keys its
// series by them, so they stay the same from run to run.
const (
	whatGetCached   = "GET /v1.0/flows/{id}, cached"
	whatPostFlows   = "POST /v1.0/flows"
	whatPutFlows    = "PUT /v1.0/flows/{id}"
	whatStart       = "POST /v1.0/activeflows (a call starts)"
	whatStep        = "POST /v1.0/activeflows/{id}/next (a step)"
	whatLongStep    = "a call's 100th step, p50 latency"
	whatLongAnswer  = "a call's 100th step, answer size"
	whatIVRCall     = "IVR call end to end (start + 5 steps), calls/s"
	whatLongRate    = "100-step calls, steps/s"
	whatOutbox      = "IVR calls' steps with a customer webhook (the events outbox): cost"
	refNoWebhook    = "the same without a webhook"
	refIVRSteps     = "the IVR calls' steps/s"
	whatDeep        = "GET /v1.0/flows, 1,000 deep: cost"
	whatSQLite      = "GET /v1.0/flows/{id} on SQLite"
	whatPeakRSS     = "peak RSS of flowbin"
	whatSoak        = "RSS over the soak"
	refPgRead       = "pgbench point read"
	refEcho         = "bare Echo v4 handler, same body"
	refPgInsert     = "pgbench, the same insert SQL"
	refPgUpdate     = "pgbench, the same update SQL"
	refPgStart      = "pgbench, insert of an equal state row"
	refPgStep       = "pgbench, read + update of an equal state row"
	refFirstStep    = "its 1st step"
	refSecondStep   = "its 2nd step (the same actions)"
	refPgCall       = "pgbench: 1 insert + 5 read-updates"
	refFirstPage    = "the first page"
	refPostgresGet  = "PostgreSQL GET"
	refNone         = "—"
	refSoakStart    = "its start"
	callPgbenchNote = "derived: 1 / (1/insert rate + 5/step rate)"
)

type report struct {
	cfg     config
	started time.Time
	// commitShort and commitFull are the tree flowbin was built from, taken when the run starts: a commit made
	// while it runs is not what it measured.
	commitShort, commitFull string
	took                    time.Duration
	machine                 []kv

	pgSeed, sqliteSeed time.Duration
	pageToken          string
	validated          int
	warnings           map[string]int // of the validated flows, by reason

	pgRead, getCold, get, first, deep, pgInsert, post, put, soak, sqliteGet Result
	warmed, sqliteWarmed                                                    time.Duration // the pass that reads every flow once

	echoGet              Result // the bare Echo handler, with a body of echoBody bytes
	echoBody             int
	pgUpdate             Result
	pgStart, start       Result // a call starts: pgbench's insert of an equal row, and flowbin's
	pgStep               Result
	steps, ivr, long     callResult // steps of started calls (the pool); IVR calls end to end; 100-step calls, 32 runners
	outbox               callResult // IVR calls end to end while the customer has a webhook
	delivered            int        // events the webhook received during that run
	longOne              callResult // 100-step calls, one runner
	pool                 int        // calls the start scenario left for the step scenario
	stateStart, stateLen int        // bytes of the state flowbin stored when an IVR call started, and after an average step
	longState            [2]int     // bytes of the 100-step call's state after its 1st and 100th step
	stats                Result     // GET /v1.0/flows/{id}/stats over statsExecutions executions, one client
	console              Result     // a consoleActions-action flow's page, interactive after its load's start

	soakRSS      []int64 // kB, one a second
	peakKB       int64
	sqlitePeakKB int64

	loadEnd                    string
	pgLog, sqliteLog           string
	pgLogLines, sqliteLogLines int
}

type kv struct{ k, v string }

// machineInfo describes where the numbers come from.
func machineInfo(ctx context.Context, admin *pgx.Conn) []kv {
	var pgVersion string
	if err := admin.QueryRow(ctx, "SELECT version()").Scan(&pgVersion); err != nil {
		pgVersion = "unknown (" + err.Error() + ")"
	}
	kernel := strings.TrimSpace(readFile("/proc/sys/kernel/ostype") + " " + readFile("/proc/sys/kernel/osrelease"))
	return []kv{
		{"CPUs (nproc)", nproc()},
		{"CPU", procField("/proc/cpuinfo", "model name")},
		{"memory", memTotal()},
		{"kernel", kernel},
		{"Go", runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH},
		{"PostgreSQL", pgVersion},
		{"pgbench", pgbenchVersion(ctx)},
		{"load average (1, 5, 15 min) at the start", loadAverage()},
	}
}

// loadAverage is the machine's load average: on a shared machine, other work takes CPUs from every process of the
// run, and the report says how much there was.
func loadAverage() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

func nproc() string {
	if out, err := exec.Command("nproc").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return strconv.Itoa(runtime.NumCPU())
}

// thousands writes n with thousands separators: 100,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// procField is the value of the first "name : value" line of a /proc file.
func procField(path, name string) string {
	for line := range strings.SplitSeq(readFile(path), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotal() string {
	kb, err := strconv.ParseInt(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
}

// commit is the short commit of the tree, with "+dirty" when it has changes (other than reports). The
// --no-optional-locks keeps git status from refreshing the index.
func commit() (short, full string) {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown", "unknown (not a git checkout)"
	}
	short = strings.TrimSpace(string(out))
	full = short
	st, err := exec.Command("git", "--no-optional-locks", "status", "--porcelain", "--", ".",
		":(exclude)"+resultsDir).Output()
	if err != nil || len(strings.TrimSpace(string(st))) > 0 {
		full += "+dirty"
	}
	return short, full
}

// counts renders a breakdown such as "404 ×3, 500 ×1", or "none".
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func errorNote(r Result) string {
	if r.Errors == 0 {
		return ""
	}
	return fmt.Sprintf(" — %d ERRORS: %s", r.Errors, counts(r.Statuses))
}

// cpuNote says where the CPU time of a measurement went: flowbin's per request and answer size, and the
// client's (load generator or pgbench) per request.
func cpuNote(r Result) string {
	n := r.Requests
	if r.AllRequests > 0 {
		n = r.AllRequests
	}
	if n == 0 || r.Elapsed == 0 || (r.ServerCPU == 0 && r.ClientCPU == 0) {
		return "" // not measured on its own (the starts of the IVR calls are in the steps' figure)
	}
	per := func(d time.Duration) time.Duration { return d / time.Duration(n) }
	cores := func(d time.Duration) float64 { return d.Seconds() / r.Elapsed.Seconds() }
	if r.PgbenchTPS > 0 {
		return fmt.Sprintf("pgbench (client) CPU %s per transaction (%.2f cores)", ms(per(r.ClientCPU)), cores(r.ClientCPU))
	}
	of := ""
	if r.AllRequests > 0 {
		of = fmt.Sprintf(" (per request of %d, starts included)", r.AllRequests)
	}
	server := "flowbin"
	if r.Name == echoName {
		server = "bare Echo server"
	}
	return fmt.Sprintf("%s CPU %s per request%s (%.2f cores), load generator %s (%.2f cores); answers of %s",
		server, ms(per(r.ServerCPU)), of, cores(r.ServerCPU), ms(per(r.ClientCPU)), cores(r.ClientCPU), size(r.Bytes/int64(n)))
}

func size(b int64) string {
	if b < 10_000 {
		return fmt.Sprintf("%d B", b)
	}
	return fmt.Sprintf("%.0f kB", float64(b)/1000)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// target is one row of the targets table.
type target struct {
	what, reference string
	ratio           string // "0.41×", or a value (MiB, %)
	goal            string // "≥ 0.6×"; "—" for a row that only reports
	pass, info      bool   // info: no target, reported for comparison
	detail          string
}

func (r *report) targets() []target {
	var ts []target
	// add appends a row; a measurement with errors fails it whatever its ratio.
	add := func(t target, rs ...Result) {
		for _, x := range rs {
			if x.Errors > 0 {
				t.pass = false
				t.detail += fmt.Sprintf("; %d errors in %s", x.Errors, x.Name)
			}
		}
		ts = append(ts, t)
	}
	atLeast := func(what, ref string, a, b Result, goal float64) {
		x := ratio(a.Rate(), b.Rate())
		add(target{what: what, reference: ref, ratio: fmt.Sprintf("%.2f×", x), goal: fmt.Sprintf("≥ %.1f×", goal),
			pass: x >= goal, detail: fmt.Sprintf("%.0f/s vs %.0f/s; p50 %s vs %s", a.Rate(), b.Rate(), ms(a.P50), ms(b.P50))}, a, b)
	}
	atLeast(whatGetCached, refPgRead, r.get, r.pgRead, targetGetRatio)
	atLeast(whatGetCached, refEcho, r.get, r.echoGet, targetEchoRatio)
	atLeast(whatPostFlows, refPgInsert, r.post, r.pgInsert, targetWriteRatio)
	atLeast(whatPutFlows, refPgUpdate, r.put, r.pgUpdate, targetWriteRatio)
	atLeast(whatStart, refPgStart, r.start, r.pgStart, targetWriteRatio)
	atLeast(whatStep, refPgStep, r.steps.steps, r.pgStep, targetWriteRatio)

	first, hundredth := median(r.longOne.byIndex[1]), median(r.longOne.byIndex[longTalks])
	lx := ratio(float64(hundredth), float64(first))
	add(target{what: whatLongStep, reference: refFirstStep, ratio: fmt.Sprintf("%.2f×", lx),
		goal: fmt.Sprintf("≤ %.1f×", targetLongStep), pass: first > 0 && hundredth > 0 && lx <= targetLongStep,
		detail: fmt.Sprintf("%s vs %s (one runner, %d and %d calls); state %s vs %s", ms(hundredth), ms(first),
			len(r.longOne.byIndex[longTalks]), len(r.longOne.byIndex[1]), size(int64(r.longState[1])), size(int64(r.longState[0])))},
		r.longOne.steps)
	// The answer's size is compared with the 2nd step's: from the 2nd step on, every report of the long call
	// moves to the same actions (the goto, then the talk again), where the 1st moves to the talk alone.
	a1, a2, a100 := r.longOne.answerSize(1), r.longOne.answerSize(2), r.longOne.answerSize(longTalks)
	ax := ratio(float64(a100), float64(a2))
	add(target{what: whatLongAnswer, reference: refSecondStep, ratio: fmt.Sprintf("%.2f×", ax),
		goal: fmt.Sprintf("≤ %.2f×", targetLongAnswer), pass: a2 > 0 && a100 > 0 && ax <= targetLongAnswer,
		detail: fmt.Sprintf("%s vs %s (mean answer of /next, one runner; the 1st step's: %s)", size(a100), size(a2), size(a1))},
		r.longOne.steps)
	sx := ratio(r.long.steps.Rate(), r.ivr.steps.Rate())
	add(target{what: whatLongRate, reference: refIVRSteps, ratio: fmt.Sprintf("%.2f×", sx), goal: "—", info: true,
		detail: fmt.Sprintf("%.0f steps/s vs %.0f steps/s, 32 runners each", r.long.steps.Rate(), r.ivr.steps.Rate())},
		r.long.steps)

	pgCall := 0.0
	if r.pgStart.Rate() > 0 && r.pgStep.Rate() > 0 {
		pgCall = 1 / (1/r.pgStart.Rate() + ivrSteps/r.pgStep.Rate())
	}
	cx := ratio(r.ivr.callRate(), pgCall)
	add(target{what: whatIVRCall, reference: refPgCall, ratio: fmt.Sprintf("%.2f×", cx), goal: "—", info: true,
		detail: fmt.Sprintf("%.0f calls/s, %.0f steps/s vs %.0f calls/s (%s)", r.ivr.callRate(), r.ivr.steps.Rate(), pgCall,
			callPgbenchNote)}, r.ivr.steps)

	ox := ratio(r.ivr.steps.Rate(), r.outbox.steps.Rate())
	add(target{what: whatOutbox, reference: refNoWebhook, ratio: fmt.Sprintf("%.2f×", ox),
		goal: fmt.Sprintf("≤ %.1f×", targetOutboxCost), pass: r.outbox.steps.Rate() > 0 && ox <= targetOutboxCost,
		detail: fmt.Sprintf("%.0f steps/s vs %.0f steps/s; %d events received meanwhile", r.outbox.steps.Rate(), r.ivr.steps.Rate(),
			r.delivered)}, r.outbox.steps)

	cost := ratio(r.first.Rate(), r.deep.Rate())
	add(target{what: whatDeep, reference: refFirstPage, ratio: fmt.Sprintf("%.2f×", cost),
		goal: fmt.Sprintf("≤ %.1f×", targetDeepCost), pass: cost <= targetDeepCost,
		detail: fmt.Sprintf("%.0f/s vs %.0f/s; p50 %s vs %s", r.deep.Rate(), r.first.Rate(), ms(r.deep.P50), ms(r.first.P50))},
		r.deep, r.first)

	sp := ratio(float64(r.stats.P50), float64(targetStatsP50))
	add(target{what: whatStats, reference: refStatsBudget, ratio: fmt.Sprintf("%.2f×", sp), goal: "≤ 1.0×",
		pass: r.stats.Requests > 0 && r.stats.P50 <= targetStatsP50,
		detail: fmt.Sprintf("p50 %s, p99 %s, %.1f/s over %d requests", ms(r.stats.P50), ms(r.stats.P99), r.stats.Rate(),
			r.stats.Requests)}, r.stats)

	cp := ratio(float64(r.console.P50), float64(targetConsoleP50))
	consoleDetail := fmt.Sprintf("p50 %s, p99 %s over %d loads", ms(r.console.P50), ms(r.console.P99), r.console.Requests)
	if r.console.Requests == 0 {
		consoleDetail = "not measured: " + r.console.Sample
	}
	add(target{what: whatConsole, reference: refConsoleBudget, ratio: fmt.Sprintf("%.2f×", cp), goal: "≤ 1.0×",
		pass: r.console.Requests > 0 && r.console.P50 <= targetConsoleP50, detail: consoleDetail})

	s := ratio(r.sqliteGet.Rate(), r.get.Rate())
	add(target{what: whatSQLite, reference: refPostgresGet, ratio: fmt.Sprintf("%.2f×", s),
		goal: fmt.Sprintf("≥ %.1f×", targetSQLiteRatio), pass: s >= targetSQLiteRatio,
		detail: fmt.Sprintf("%.0f/s vs %.0f/s", r.sqliteGet.Rate(), r.get.Rate())}, r.sqliteGet, r.get)

	peak := float64(r.peakKB) / 1024
	add(target{what: whatPeakRSS, reference: refNone, ratio: fmt.Sprintf("%.1f MiB", peak),
		goal: fmt.Sprintf("≤ %d MiB", targetPeakMiB), pass: peak <= targetPeakMiB, detail: "VmHWM over the whole PostgreSQL run"})

	growth := r.soakGrowth()
	add(target{what: whatSoak, reference: refSoakStart, ratio: fmt.Sprintf("%+.1f%%", growth),
		goal: fmt.Sprintf("≤ %.0f%%", targetSoakGrowth), pass: growth <= targetSoakGrowth,
		detail: fmt.Sprintf("%.1f → %.1f MiB over %s of GET by id", float64(r.soakRSS[0])/1024,
			float64(r.soakRSS[len(r.soakRSS)-1])/1024, r.cfg.soak)}, r.soak)
	return ts
}

func (r *report) soakGrowth() float64 {
	if len(r.soakRSS) < 2 || r.soakRSS[0] == 0 {
		return 0
	}
	return 100 * float64(r.soakRSS[len(r.soakRSS)-1]-r.soakRSS[0]) / float64(r.soakRSS[0])
}

// table renders rows as a Markdown table, padded so that it also reads well in a terminal.
func table(header []string, rows [][]string, rightAlign []bool) string {
	width := make([]int, len(header))
	for _, row := range append([][]string{header}, rows...) {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	pad := func(s string, i int) string {
		gap := strings.Repeat(" ", width[i]-len([]rune(s)))
		if rightAlign[i] {
			return gap + s
		}
		return s + gap
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			b.WriteString(" " + pad(c, i) + " |")
		}
		b.WriteString("\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
		if rightAlign[i] {
			sep[i] = sep[i][1:] + ":"
		}
	}
	line(sep)
	for _, row := range rows {
		line(row)
	}
	return b.String()
}

func (r *report) markdown() string {
	full := r.commitFull
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# flowbin benchmark, %s\n\n", r.started.Format("2006-01-02"))
	p("- commit: `%s`\n", full)
	p("- date: %s\n", r.started.Format(dateLayout))
	for _, m := range r.machine {
		p("- %s: %s\n", m.k, m.v)
	}
	p("- load average (1, 5, 15 min) at the end: %s\n", r.loadEnd)
	if len(r.cfg.serverEnv) > 0 {
		p("- flowbin's environment also had (BENCH_FLOWBIN_ENV): `%s`\n", strings.Join(r.cfg.serverEnv, " "))
	}
	p("- run: %d clients (pgbench `-c %d -j 2 -M prepared`), %s per measurement after a %s warm-up, soak %s; took %s\n",
		clients, clients, r.cfg.duration, r.cfg.warmup, r.cfg.soak, r.took.Round(time.Second))
	p("- data: %s flows of 5–20 actions, %d customers; customer 1 (%s) owns %s; every request is customer 1's. "+
		"Seeded in %s (PostgreSQL, COPY) and %s (SQLite). %d seeded flows checked valid by flowbin (warnings: %s).\n",
		thousands(totalFlows), customers, customerNames[0], thousands(perCustomer), r.pgSeed.Round(100*time.Millisecond),
		r.sqliteSeed.Round(100*time.Millisecond), r.validated, counts(r.warnings))
	p("- calls: the IVR stores a state of %s when a call starts and of %s after an average step (pgbench's rows "+
		"carry copies of those); the 100-step call's state is %s after its 1st step and %s after its 100th. flowbin "+
		"runs with FLOWBIN_MAX_EXECUTED_ACTIONS=%d (the 100-step call runs %d actions).\n",
		size(int64(r.stateStart)), size(int64(r.stateLen)), size(int64(r.longState[0])), size(int64(r.longState[1])),
		longMaxExecuted, 2*longTalks+2)
	if r.cfg.pprof != "" {
		p("- flowbin's profiles (FLOWBIN_PPROF_ADDR): http://%s/debug/pprof/\n", r.cfg.pprof)
	}
	p("- deep page token: `%s` (the tm_create of customer 1's 1,000th newest flow)\n", r.pageToken)
	p("- chart of every ratio across the reports kept here: [ratios.svg](ratios.svg)\n\n")

	p("## Targets\n\n")
	passed, counted := 0, 0
	var cells [][]string
	for _, t := range r.targets() {
		verdict := "FAIL"
		switch {
		case t.info:
			verdict = "info"
		case t.pass:
			verdict = "PASS"
		}
		if !t.info {
			counted++
			if t.pass {
				passed++
			}
		}
		cells = append(cells, []string{t.what, t.reference, t.ratio, t.goal, verdict, t.detail})
	}
	p("%s\n", table([]string{"what", "reference", "ratio", "target", "result", "detail"}, cells,
		[]bool{false, false, true, false, false, false}))
	p("%d of %d targets met.\n", passed, counted)

	type row struct {
		res   Result
		ratio string
	}
	rel := func(a, b Result, of string) string {
		return fmt.Sprintf("%.2f× %s", ratio(a.Rate(), b.Rate()), of)
	}
	rows := []row{
		{r.pgRead, "reference"},
		{r.getCold, rel(r.getCold, r.pgRead, "pgbench read")},
		{r.get, rel(r.get, r.pgRead, "pgbench read")},
		{r.echoGet, "reference"},
		{r.first, "reference"},
		{r.deep, rel(r.deep, r.first, "first page")},
		{r.pgInsert, "reference"},
		{r.post, rel(r.post, r.pgInsert, "pgbench insert")},
		{r.pgUpdate, "reference"},
		{r.put, rel(r.put, r.pgUpdate, "pgbench update")},
		{r.pgStart, "reference"},
		{r.start, rel(r.start, r.pgStart, "pgbench insert")},
		{r.pgStep, "reference"},
		{r.steps.steps, rel(r.steps.steps, r.pgStep, "pgbench step")},
		{r.ivr.starts, "one per 5 steps below"},
		{r.ivr.steps, rel(r.ivr.steps, r.pgStep, "pgbench step")},
		{r.longOne.steps, "reference"},
		{r.long.steps, rel(r.long.steps, r.ivr.steps, "IVR steps")},
		{r.soak, rel(r.soak, r.pgRead, "pgbench read")},
		{r.sqliteGet, rel(r.sqliteGet, r.get, "PostgreSQL GET")},
	}
	cells = nil
	for _, x := range rows {
		errs := "0"
		if x.res.Errors > 0 {
			errs = strconv.Itoa(x.res.Errors) + " (FAIL)"
		}
		cells = append(cells, []string{x.res.Name, fmt.Sprintf("%.0f", x.res.Rate()), ms(x.res.P50), ms(x.res.P99),
			x.ratio, errs})
	}
	p("\n## Measurements\n\n")
	p("%s\n", table([]string{"scenario", "requests/s", "p50", "p99", "ratio", "errors"}, cells,
		[]bool{false, true, true, true, false, true}))
	p("Calls: the IVR end to end made %.0f calls/s (%.0f steps/s, %d calls in %s); the step scenario drove %s "+
		"calls that the start scenario had left at their first step (%s of them), and started %d itself. "+
		"The 100-step call's steps by their number in the call (p50, one runner): %s.\n\n",
		r.ivr.callRate(), r.ivr.steps.Rate(), r.ivr.calls, r.cfg.duration, thousands(r.steps.fromPool), thousands(r.pool),
		r.steps.starts.Requests, r.longOne.stepProfile())

	p("Peak RSS of flowbin on PostgreSQL (VmHWM, whole run): **%.1f MiB** (on SQLite: %.1f MiB).  \n",
		float64(r.peakKB)/1024, float64(r.sqlitePeakKB)/1024)
	p("Soak (%s of GET by id): RSS %.1f MiB at the start, %.1f MiB at the end: **%+.1f%%** (max %.1f MiB).\n\n",
		r.cfg.soak, float64(r.soakRSS[0])/1024, float64(r.soakRSS[len(r.soakRSS)-1])/1024, r.soakGrowth(),
		float64(slices.Max(r.soakRSS))/1024)

	p("Where the CPU goes (user + system time of each process during the measured phase; the machine's CPUs are " +
		"shared by flowbin, PostgreSQL and the client; PostgreSQL's share is the rest):\n\n")
	for _, x := range rows {
		if note := cpuNote(x.res); note != "" {
			p("- %s: %s\n", x.res.Name, note)
		}
	}

	var errs []string
	for _, x := range rows {
		if x.res.Errors > 0 {
			errs = append(errs, fmt.Sprintf("- %s: %d errors (%s); the first: `%s`", x.res.Name, x.res.Errors, counts(x.res.Statuses),
				strings.ReplaceAll(x.res.Sample, "`", "'")))
		}
	}
	if len(errs) > 0 {
		p("\n## Errors\n\n%s\n", strings.Join(errs, "\n"))
	}
	for _, l := range []struct {
		name  string
		lines int
		tail  string
	}{{"PostgreSQL", r.pgLogLines, r.pgLog}, {"SQLite", r.sqliteLogLines, r.sqliteLog}} {
		if l.lines > 0 {
			p("\n## Server log on %s (%d lines at level warn; the last ones)\n\n```\n%s\n```\n", l.name, l.lines, l.tail)
		}
	}

	p("\n## How\n\n")
	p("`make bench` (`go run ./bench`). flowbin is built with `go build -trimpath`, runs with `FLOWBIN_LOG_LEVEL=warn` and " +
		"its default pool, and is driven over HTTP/1.1 keep-alive by 32 goroutines sending requests back to back; " +
		"p50 and p99 are exact, over every request of the measured phase. pgbench runs the scripts of `bench/pgbench/` " +
		"with the same 32 clients, each the SQL flowbin's store runs for the request it is compared with: `read.sql` " +
		"(the row flowbin's GET reads, by primary key), `insert.sql` (a flow and its revision 1 in one statement, as " +
		"POST writes them), `update.sql` (PUT's statement: the flow row updated and its revision inserted, one " +
		"transaction), `activeflow_insert.sql` (an activeflow row whose state is a copy of the one flowbin stored when " +
		"a call started) and `activeflow_step.sql` (in one transaction, the read of an activeflow row and the update of " +
		"its state, a copy of the one flowbin stored after an average step). Its rate is its tps without connection " +
		"time, its p50 and p99 come from its per-transaction log. PUT writes a new revision of a random flow (every " +
		"body differs). The load generator shares the machine's CPUs with the server and PostgreSQL, as pgbench does.\n\n")
	p("GET by id is measured twice. *Cold cache (from start)* is the first %s after flowbin starts, with its flow "+
		"cache empty: most answers are read from the database. Then a pass reads each of customer 1's %s flows once "+
		"(%s on PostgreSQL, %s on SQLite), as a platform placing calls would have, and *GET /v1.0/flows/{id}*, the "+
		"soak and the SQLite figure measure the steady state, which is what the targets are about. The bare Echo "+
		"handler is this program run again as a process of its own, on loopback; it answers a fixed body of %s (a flow's answer of "+
		"the average size) with no authentication: the floor of an answer in flowbin's HTTP stack.\n\n",
		r.cfg.duration, thousands(perCustomer), r.warmed.Round(100*time.Millisecond), r.sqliteWarmed.Round(100*time.Millisecond),
		size(int64(r.echoBody)))
	p("Calls are driven as a runner drives them: `POST /v1.0/activeflows` with `{\"flow_id\": …}` of the IVR " +
		"(answer, talk, digits_receive, branch, talk, hangup), then `POST /v1.0/activeflows/{id}/next` with the " +
		"current action's id and step and `voipbin.call.digits` until the answer says `\"status\":\"ended\"` " +
		"(5 steps; the branch is the engine's). *A call starts* measures starts alone; *a step* drives the calls " +
		"those starts left at their first step, so that every measured request is a step; *IVR calls end to end* " +
		"starts and finishes calls back to back. The 100-step call (answer, then a talk that a goto with " +
		"`loop_count` repeats, then hangup: 102 steps) is first driven by one runner, call after call (at least 10 " +
		"calls measured), so that a step's latency is its own cost rather than time queueing behind the other " +
		"runners' requests: its 1st and 100th steps are compared by their p50 latency. Then 32 runners drive it for " +
		"the rate of a long call's steps, each leaving its first call at another step so that the runners are " +
		"spread over the call, measured once each has made a call's steps.\n")
	return b.String()
}

// write saves the report as bench/results/<date>-<commit>.md.
func (r *report) write(text string) (string, error) {
	short := r.commitShort
	if err := os.MkdirAll(resultsDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(resultsDir, r.started.Format("2006-01-02")+"-"+short+".md")
	return path, os.WriteFile(path, []byte(text), 0o644)
}
