package main

import (
	"bufio"
	"context"
	"embed"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The pgbench scripts are kept as files beside the program and written to the run's temporary directory.
//
//go:embed pgbench/*.sql
var pgbenchScripts embed.FS

// pgbenchRun is one pgbench measurement.
type pgbenchRun struct {
	Name    string
	Script  string   // file name under pgbench/
	Defines []string // -D name=value: the values the script's :variables take
}

// runPgbench runs a script with the load generator's client count: a warm-up run, then the measured one with a
// per-transaction log (-l), from which p50 and p99 are computed exactly, like the load generator's.
func runPgbench(ctx context.Context, dir, dbURL string, run pgbenchRun, warmup, dur time.Duration) (Result, error) {
	script, err := pgbenchScripts.ReadFile("pgbench/" + run.Script)
	if err != nil {
		return Result{}, err
	}
	scriptPath := filepath.Join(dir, run.Script)
	if err := os.WriteFile(scriptPath, script, 0o644); err != nil {
		return Result{}, err
	}
	args := func(d time.Duration) []string {
		a := []string{"-n", "-c", strconv.Itoa(clients), "-j", "2", "-M", "prepared",
			"-T", strconv.Itoa(pgbenchSeconds(d)), "-f", scriptPath}
		for _, def := range run.Defines {
			a = append(a, "-D", def)
		}
		return a
	}
	if warmup > 0 {
		if _, _, err := pgbench(ctx, dir, append(args(warmup), dbURL)); err != nil {
			return Result{}, fmt.Errorf("pgbench %s (warm-up): %w", run.Script, err)
		}
	}
	prefix := filepath.Join(dir, "pgbench-"+strings.TrimSuffix(run.Script, ".sql"))
	out, cpu, err := pgbench(ctx, dir, append(args(dur), "-l", "--log-prefix="+prefix, dbURL))
	if err != nil {
		return Result{}, fmt.Errorf("pgbench %s: %w", run.Script, err)
	}
	res, err := parsePgbench(run.Name, out)
	if err != nil {
		return Result{}, fmt.Errorf("pgbench %s: %w\n%s", run.Script, err, out)
	}
	lat, failed, err := readPgbenchLogs(prefix)
	if err != nil {
		return Result{}, fmt.Errorf("pgbench %s: %w", run.Script, err)
	}
	res.setLatencies(lat)
	res.ClientCPU = cpu
	if failed > 0 && res.Statuses["failed transactions"] == 0 {
		res.Errors, res.Statuses["failed transactions"] = failed, failed
	}
	return res, nil
}

// pgbenchSeconds is pgbench's -T: whole seconds, at least one.
func pgbenchSeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

// pgbench runs pgbench to its end, and reports its output and the CPU time it used.
func pgbench(ctx context.Context, dir string, args []string) (string, time.Duration, error) {
	cmd := exec.CommandContext(ctx, "pgbench", args...)
	cmd.Dir = dir
	// As flowbin's own connections (store.writerDSN): the flows trigger of migration 00004 then leaves the
	// announcement of a change to the writer, which flowbin makes after the commit; without it every update
	// would NOTIFY inside its transaction, and serialise on PostgreSQL's notification lock.
	cmd.Env = append(os.Environ(), "PGOPTIONS=-c flowbin.writer=on")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), 0, fmt.Errorf("%w\n%s", err, out)
	}
	return string(out), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

var (
	// pgbench 14+ says "without initial connection time"; older ones "excluding connections establishing".
	reTPS      = regexp.MustCompile(`tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)`)
	reLatency  = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
	reDone     = regexp.MustCompile(`number of transactions actually processed: (\d+)`)
	reFailed   = regexp.MustCompile(`number of failed transactions: (\d+)`)
	reDuration = regexp.MustCompile(`duration: (\d+) s`)
)

// parsePgbench reads pgbench's summary: its tps excluding connection time is the rate.
func parsePgbench(name, out string) (Result, error) {
	res := Result{Name: name, Statuses: map[string]int{}, Output: out}
	m := reTPS.FindStringSubmatch(out)
	if m == nil {
		return res, fmt.Errorf("no tps in pgbench's output")
	}
	res.PgbenchTPS, _ = strconv.ParseFloat(m[1], 64)
	if m := reLatency.FindStringSubmatch(out); m != nil {
		ms, _ := strconv.ParseFloat(m[1], 64)
		res.Mean = time.Duration(ms * float64(time.Millisecond))
	}
	if m := reDone.FindStringSubmatch(out); m != nil {
		res.Requests, _ = strconv.Atoi(m[1])
	}
	if m := reDuration.FindStringSubmatch(out); m != nil {
		s, _ := strconv.Atoi(m[1])
		res.Elapsed = time.Duration(s) * time.Second
	}
	if m := reFailed.FindStringSubmatch(out); m != nil {
		if n, _ := strconv.Atoi(m[1]); n > 0 {
			res.Errors, res.Statuses["failed transactions"] = n, n
		}
	}
	return res, nil
}

// readPgbenchLogs reads the per-transaction logs of a run (one file per thread: PREFIX.PID, PREFIX.PID.1, …).
// Each line is "client transaction latency_us script epoch_s epoch_us"; the latency is "failed" or "skipped"
// for transactions that did not complete.
func readPgbenchLogs(prefix string) ([]time.Duration, int, error) {
	files, err := filepath.Glob(prefix + ".*")
	if err != nil || len(files) == 0 {
		return nil, 0, fmt.Errorf("no per-transaction log %s.*", prefix)
	}
	var lat []time.Duration
	failed := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, 0, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			us, err := strconv.ParseInt(fields[2], 10, 64)
			if err != nil {
				failed++
				continue
			}
			lat = append(lat, time.Duration(us)*time.Microsecond)
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return nil, 0, err
		}
	}
	slices.Sort(lat)
	return lat, failed, nil
}

// pgbenchVersion is pgbench's own version line, for the report.
func pgbenchVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "pgbench", "--version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}
