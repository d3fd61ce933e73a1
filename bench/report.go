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

// Targets. RSS is in MiB (the kB of /proc are KiB).
const (
	targetGetRatio    = 0.6 // GET by id, of pgbench's point-read rate
	targetGetP99      = 15 * time.Millisecond
	targetDeepCost    = 1.2 // deep page cost (1/rate), of the first page's
	targetWriteRatio  = 0.5 // POST and PUT, of pgbench's insert rate
	targetPeakMiB     = 150
	targetSoakGrowth  = 10.0 // percent
	targetSQLiteRatio = 0.5  // SQLite GET, of PostgreSQL GET
	resultsDir        = "bench/results"
	dateLayout        = "2006-01-02 15:04:05 MST"
)

type report struct {
	cfg     config
	started time.Time
	took    time.Duration
	machine []kv

	pgSeed, sqliteSeed time.Duration
	pageToken          string
	validated          int
	warnings           map[string]int // of the validated flows, by reason

	pgRead, getCold, get, first, deep, pgInsert, post, put, soak, sqliteGet Result
	warmed, sqliteWarmed                                                    time.Duration // the pass that reads every flow once

	soakRSS      []int64 // kB, one a second
	peakKB       int64
	sqlitePeakKB int64

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
	}
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
	if r.Requests == 0 || r.Elapsed == 0 {
		return ""
	}
	per := func(d time.Duration) time.Duration { return d / time.Duration(r.Requests) }
	cores := func(d time.Duration) float64 { return d.Seconds() / r.Elapsed.Seconds() }
	if r.PgbenchTPS > 0 {
		return fmt.Sprintf("pgbench (client) CPU %s per transaction (%.2f cores)", ms(per(r.ClientCPU)), cores(r.ClientCPU))
	}
	return fmt.Sprintf("flowbin CPU %s per request (%.2f cores), load generator %s (%.2f cores); answers of %s",
		ms(per(r.ServerCPU)), cores(r.ServerCPU), ms(per(r.ClientCPU)), cores(r.ClientCPU), size(r.Bytes/int64(r.Requests)))
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

// target is one PASS/FAIL line.
type target struct {
	name   string
	pass   bool
	detail string
}

func (r *report) targets() []target {
	clean := func(rs ...Result) (bool, string) {
		for _, x := range rs {
			if x.Errors > 0 {
				return false, fmt.Sprintf("; %d errors in %s", x.Errors, x.Name)
			}
		}
		return true, ""
	}
	var ts []target
	add := func(name string, ok bool, detail string, rs ...Result) {
		c, note := clean(rs...)
		ts = append(ts, target{name, ok && c, detail + note})
	}

	g := ratio(r.get.Rate(), r.pgRead.Rate())
	add(fmt.Sprintf("GET by id ≥ %.1f× pgbench point read, p99 ≤ %s", targetGetRatio, ms(targetGetP99)),
		g >= targetGetRatio && r.get.P99 <= targetGetP99,
		fmt.Sprintf("%.2f× (%.0f/s vs %.0f/s), p99 %s", g, r.get.Rate(), r.pgRead.Rate(), ms(r.get.P99)),
		r.get, r.pgRead)

	cost := ratio(r.first.Rate(), r.deep.Rate())
	add(fmt.Sprintf("deep page ≤ %.1f× the cost of the first page", targetDeepCost), cost <= targetDeepCost,
		fmt.Sprintf("%.2f× (%.0f/s vs %.0f/s; p50 %s vs %s)", cost, r.deep.Rate(), r.first.Rate(), ms(r.deep.P50), ms(r.first.P50)),
		r.deep, r.first)

	for _, w := range []Result{r.post, r.put} {
		x := ratio(w.Rate(), r.pgInsert.Rate())
		add(fmt.Sprintf("%s ≥ %.1f× pgbench insert", strings.Fields(w.Name)[0], targetWriteRatio), x >= targetWriteRatio,
			fmt.Sprintf("%.2f× (%.0f/s vs %.0f/s)", x, w.Rate(), r.pgInsert.Rate()), w, r.pgInsert)
	}

	peak := float64(r.peakKB) / 1024
	add(fmt.Sprintf("peak RSS ≤ %d MiB", targetPeakMiB), peak <= targetPeakMiB, fmt.Sprintf("%.1f MiB", peak))

	growth := r.soakGrowth()
	add(fmt.Sprintf("soak RSS growth ≤ %.0f%%", targetSoakGrowth), growth <= targetSoakGrowth,
		fmt.Sprintf("%+.1f%% (%.1f → %.1f MiB over %s)", growth, float64(r.soakRSS[0])/1024,
			float64(r.soakRSS[len(r.soakRSS)-1])/1024, r.cfg.soak), r.soak)

	s := ratio(r.sqliteGet.Rate(), r.get.Rate())
	add(fmt.Sprintf("SQLite GET ≥ %.1f× PostgreSQL GET", targetSQLiteRatio), s >= targetSQLiteRatio,
		fmt.Sprintf("%.2f× (%.0f/s vs %.0f/s)", s, r.sqliteGet.Rate(), r.get.Rate()), r.sqliteGet, r.get)
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
	_, full := commit()
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# flowbin benchmark, %s\n\n", r.started.Format("2006-01-02"))
	p("- commit: `%s`\n", full)
	p("- date: %s\n", r.started.Format(dateLayout))
	for _, m := range r.machine {
		p("- %s: %s\n", m.k, m.v)
	}
	p("- run: %d clients (pgbench `-c %d -j 2 -M prepared`), %s per measurement after a %s warm-up, soak %s; took %s\n",
		clients, clients, r.cfg.duration, r.cfg.warmup, r.cfg.soak, r.took.Round(time.Second))
	p("- data: %s flows of 5–20 actions, %d customers; customer 1 (%s) owns %s; every request is customer 1's. "+
		"Seeded in %s (PostgreSQL, COPY) and %s (SQLite). %d seeded flows checked valid by flowbin (warnings: %s).\n",
		thousands(totalFlows), customers, customerNames[0], thousands(perCustomer), r.pgSeed.Round(100*time.Millisecond),
		r.sqliteSeed.Round(100*time.Millisecond), r.validated, counts(r.warnings))
	if r.cfg.pprof != "" {
		p("- flowbin's profiles (FLOWBIN_PPROF_ADDR): http://%s/debug/pprof/\n", r.cfg.pprof)
	}
	p("- deep page token: `%s` (the tm_create of customer 1's 1,000th newest flow)\n\n", r.pageToken)

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
		{r.first, "reference"},
		{r.deep, rel(r.deep, r.first, "first page")},
		{r.pgInsert, "reference"},
		{r.post, rel(r.post, r.pgInsert, "pgbench insert")},
		{r.put, rel(r.put, r.pgInsert, "pgbench insert")},
		{r.soak, rel(r.soak, r.pgRead, "pgbench read")},
		{r.sqliteGet, rel(r.sqliteGet, r.get, "PostgreSQL GET")},
	}
	var cells [][]string
	for _, x := range rows {
		errs := "0"
		if x.res.Errors > 0 {
			errs = strconv.Itoa(x.res.Errors) + " (FAIL)"
		}
		cells = append(cells, []string{x.res.Name, fmt.Sprintf("%.0f", x.res.Rate()), ms(x.res.P50), ms(x.res.P99),
			x.ratio, errs})
	}
	p("%s\n", table([]string{"scenario", "requests/s", "p50", "p99", "ratio", "errors"}, cells,
		[]bool{false, true, true, true, false, true}))

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
	p("\n## Targets\n\n")
	passed := 0
	for _, t := range r.targets() {
		verdict := "FAIL"
		if t.pass {
			verdict, passed = "PASS", passed+1
		}
		p("- **%s** %s: %s\n", verdict, t.name, t.detail)
	}
	p("\n%d of %d targets met.\n", passed, len(r.targets()))

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
		"p50 and p99 are exact, over every request of the measured phase. pgbench runs `bench/pgbench/read.sql` " +
		"(the row flowbin's GET reads, by primary key) and `bench/pgbench/insert.sql` (a flow and its revision 1, " +
		"what flowbin's POST writes, in one statement) with the same 32 clients; its rate is its tps without " +
		"connection time, its p50 and p99 come from its per-transaction log. PUT writes a new revision of a random " +
		"flow (every body differs). The load generator shares the machine's CPUs with the server and PostgreSQL, " +
		"as pgbench does.\n\n")
	p("GET by id is measured twice. *Cold cache (from start)* is the first %s after flowbin starts, with its flow "+
		"cache empty: most answers are read from the database. Then a pass reads each of customer 1's %s flows once "+
		"(%s on PostgreSQL, %s on SQLite), as a platform placing calls would have, and *GET /v1.0/flows/{id}*, the "+
		"soak and the SQLite figure measure the steady state, which is what the targets are about.\n",
		r.cfg.duration, thousands(perCustomer), r.warmed.Round(100*time.Millisecond), r.sqliteWarmed.Round(100*time.Millisecond))
	return b.String()
}

// write saves the report as bench/results/<date>-<commit>.md.
func (r *report) write(text string) (string, error) {
	short, _ := commit()
	if err := os.MkdirAll(resultsDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(resultsDir, r.started.Format("2006-01-02")+"-"+short+".md")
	return path, os.WriteFile(path, []byte(text), 0o644)
}
