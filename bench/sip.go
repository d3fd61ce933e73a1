package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/flowbin/flowbin/auth"
	flowbinserver "github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store"
)

// The calls bench (go run ./bench sip; make bench runs it after the API bench): SIPp places concurrent calls of
// 10 s with audio both ways (its shipped A-law capture, echoed back) on flowbin's SIP runner, then on a bare diago
// echo server in the same process, and compares the CPU each spends per call; it reads the runner's inbound
// packet gaps and its memory per call; then it offers IVR calls (answer, talk, digit, branch, talk, hangup) at a
// fixed rate. Loopback only; every SIPp run is bounded in calls and time.
//
// Environment: BENCH_SIP_CALLS (concurrent calls, default 400), BENCH_SIP_IVR_RATE (IVR calls a second offered,
// default 30, for 10 s).

type sipPhase struct {
	name       string
	calls      int
	failed     int
	cpuPerCall float64 // share of one core per concurrent call
	rssPerCall float64 // MiB
	gapP95     time.Duration
	note       string
}

func runSIPBench(ctx context.Context) error {
	for _, tool := range []string{"sipp", "espeak-ng"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (make test-deps installs it)", tool)
		}
	}
	n := envInt("BENCH_SIP_CALLS", 400)
	rate := envInt("BENCH_SIP_IVR_RATE", 30)
	tmp, err := os.MkdirTemp("", "flowbin-sip-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	started := time.Now()

	fb, err := startSIPFlowbin(ctx, tmp)
	if err != nil {
		return err
	}
	defer fb.close()

	bare, err := benchBareDiago(ctx, n)
	if err != nil {
		return fmt.Errorf("bare diago: %w", err)
	}
	fmt.Printf("bare diago echo: %+v\n", bare)
	runner, err := fb.benchEcho(ctx, n)
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	fmt.Printf("flowbin runner: %+v\n", runner)
	ivr, err := fb.benchIVR(ctx, rate)
	if err != nil {
		return fmt.Errorf("ivr: %w", err)
	}
	fmt.Printf("ivr: %+v\n", ivr)

	ratio := runner.cpuPerCall / bare.cpuPerCall
	var b strings.Builder
	_, full := commit()
	fmt.Fprintf(&b, "# flowbin calls bench, %s\n\n- commit: `%s`\n- took: %s\n- machine: %d cores, Go %s; shared with other builds while it ran\n\n",
		started.Format("2006-01-02"), full, time.Since(started).Round(time.Second), runtime.NumCPU(), runtime.Version())
	pass := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	rows := [][]string{
		{"concurrent calls (10 s, audio both ways, SIPp) with no failed call", "—", fmt.Sprintf("%d calls, %d failed", runner.calls, runner.failed), "≥ 400, 0 failed", pass(runner.calls >= 400 && runner.failed == 0)},
		{"CPU per concurrent call", fmt.Sprintf("bare diago echo: %.2f%% of a core", 100*bare.cpuPerCall), fmt.Sprintf("%.2f%% of a core (%.2f×)", 100*runner.cpuPerCall, ratio), "≤ 1.5×", pass(ratio <= 1.5)},
		{"inbound packet gap p95 at " + strconv.Itoa(runner.calls) + " calls", "the capture's 30 ms packet time; bare diago echo: " + bare.gapP95.String(), runner.gapP95.String(), "≤ 60 ms", pass(runner.gapP95 <= 60*time.Millisecond)},
		{"RSS per concurrent call", "—", fmt.Sprintf("%.3f MiB", runner.rssPerCall), "≤ 0.5 MB", pass(runner.rssPerCall <= 0.5)},
		{"IVR calls per second", "—", ivr.note, "stated", "—"},
	}
	b.WriteString(table([]string{"what", "reference in the same run", "measured", "target", "result"}, rows, make([]bool, 5)))
	fmt.Fprintf(&b, "\nThe bare diago echo server answered %d calls (%d failed) and used %.3f MiB per call. The runner's calls ran "+
		"the flow answer → echo through flowbin's HTTP runner protocol to an in-process flowbin server on SQLite (records kept "+
		"in memory: the API lane's ledger is not part of this run).\n", bare.calls, bare.failed, bare.rssPerCall)
	text := b.String()
	fmt.Print("\n" + text)
	short, _ := commit()
	if err := os.MkdirAll(resultsDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(resultsDir, started.Format("2006-01-02")+"-"+short+"-calls.md")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Println("report:", path)
	return nil
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// sipFlowbin is a flowbin server (SQLite) and its SIP runner, in this process.
type sipFlowbin struct {
	srv     *httptest.Server
	st      *store.Store
	runner  *sip.Runner
	metrics *sip.Metrics
	dir     *staticDirectory
	client  *http.Client
	token   string
	cust    uuid.UUID
}

type staticDirectory struct{ routes map[string]sip.Route }

func (d *staticDirectory) Route(_ context.Context, user string) (sip.Route, error) {
	r, ok := d.routes[user]
	if !ok {
		return sip.Route{}, sip.ErrUnknownNumber
	}
	return r, nil
}

type countingLedger struct{ created atomic.Int64 }

func (l *countingLedger) CreateCall(context.Context, *sip.Call) error           { l.created.Add(1); return nil }
func (l *countingLedger) UpdateCall(context.Context, *sip.Call) error           { return nil }
func (l *countingLedger) CreateRecording(context.Context, *sip.Recording) error { return nil }
func (l *countingLedger) FinishRecording(context.Context, *sip.Recording) error { return nil }

func startSIPFlowbin(ctx context.Context, tmp string) (*sipFlowbin, error) {
	st, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(tmp, "flowbin.db"), Migrate: true})
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	copy(secret, "flowbin-calls-bench-secret")
	tokens, err := auth.NewTokens(secret, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	pw, err := auth.NewPasswords(4)
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := flowbinserver.New(flowbinserver.Config{LoginAttemptsPerAddress: 1000, LoginAttemptsPerUser: 1000}, st, tokens, pw, quiet)
	if err != nil {
		return nil, err
	}
	go s.WatchChanges(ctx)
	fb := &sipFlowbin{srv: httptest.NewServer(s), st: st, dir: &staticDirectory{routes: map[string]sip.Route{}},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	hash, err := pw.Hash("bench-password")
	if err != nil {
		return nil, err
	}
	u, err := st.CreateUser(ctx, "bench-co", "bench", hash)
	if err != nil {
		return nil, err
	}
	fb.cust = u.CustomerID
	var login struct{ Token string }
	if err := fb.post("/auth/login", map[string]string{"username": "bench", "password": "bench-password"}, &login); err != nil {
		return nil, err
	}
	fb.token = login.Token
	fb.metrics = sip.NewMetrics(nil)
	fb.runner, err = sip.New(sip.Config{
		ListenAddr: "127.0.0.1:0", Directory: fb.dir, Ledger: &countingLedger{}, Metrics: fb.metrics, Log: quiet,
		MaxCalls: 2000, MaxCallsPerCustomer: 2000,
		Flows: &sip.HTTPFlows{BaseURL: fb.srv.URL, Client: fb.client,
			Credential: func(uuid.UUID) (string, error) { return fb.token, nil }},
	})
	if err != nil {
		return nil, err
	}
	if err := fb.runner.Start(ctx); err != nil {
		return nil, err
	}
	return fb, nil
}

func (fb *sipFlowbin) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = fb.runner.Shutdown(ctx)
	fb.srv.Close()
	_ = fb.st.Close()
}

func (fb *sipFlowbin) post(path string, body, out any) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", fb.srv.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if fb.token != "" {
		req.Header.Set("Authorization", "Bearer "+fb.token)
	}
	res, err := fb.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return fmt.Errorf("%s: %d %s", path, res.StatusCode, rb)
	}
	return json.Unmarshal(rb, out)
}

func (fb *sipFlowbin) route(number string, actions ...map[string]any) error {
	var f struct{ ID uuid.UUID }
	if err := fb.post("/v1.0/flows", map[string]any{"name": "bench " + number, "actions": actions}, &f); err != nil {
		return err
	}
	fb.dir.routes[number] = sip.Route{CustomerID: fb.cust, FlowID: f.ID}
	return nil
}

func (fb *sipFlowbin) benchEcho(ctx context.Context, n int) (sipPhase, error) {
	if err := fb.route("+15550100000", map[string]any{"type": "answer"},
		map[string]any{"type": "echo", "option": map[string]any{"duration": 60000}}); err != nil {
		return sipPhase{}, err
	}
	gap0 := histogram(fb.metrics)
	// The CPU is measured once every call is in its echo: a call the runner holds may still be starting its
	// activeflow and reporting its answer (HTTP and SQLite work that is not the calls' audio), and counting it
	// as up put that set-up into the window.
	echoing := fb.metrics.InProgress.WithLabelValues("echo")
	p, err := loadPhase(ctx, "flowbin runner", fb.runner.Addr().String(), "+15550100000", n, func() int { return int(gaugeValue(echoing)) })
	if err != nil {
		return p, err
	}
	p.gapP95 = p95(gap0, histogram(fb.metrics))
	return p, nil
}

// benchBareDiago answers calls with diago alone and echoes their audio: the reference of the CPU per call.
func benchBareDiago(ctx context.Context, n int) (sipPhase, error) {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("bare"))
	if err != nil {
		return sipPhase{}, err
	}
	defer ua.Close()
	port, err := freePortUDP()
	if err != nil {
		return sipPhase{}, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dg := diago.NewDiago(ua, diago.WithLogger(quiet),
		diago.WithTransport(diago.Transport{Transport: "udp", BindHost: "127.0.0.1", BindPort: port}))
	var active atomic.Int64
	// The same histogram as the runner's, so that the gaps the machine itself causes show in the reference.
	gaps := sip.NewMetrics(nil).Gap
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := dg.ServeBackground(sctx, func(d *diago.DialogServerSession) {
		med, err := d.Answer(diago.AnswerOptions{})
		if err != nil {
			return
		}
		active.Add(1) // up once answered and echoing, as the runner's calls are counted
		defer active.Add(-1)
		// diago's Echo, with the time between packets observed.
		r, err := med.AudioReader()
		if err != nil {
			return
		}
		w, err := med.AudioWriter()
		if err != nil {
			return
		}
		buf := make([]byte, 1500)
		var last time.Time
		for {
			n, err := r.Read(buf)
			if err != nil {
				return
			}
			if now := time.Now(); !last.IsZero() {
				gaps.Observe(now.Sub(last).Seconds())
				last = now
			} else {
				last = now
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return
			}
		}
	}); err != nil {
		return sipPhase{}, err
	}
	m := &sip.Metrics{Gap: gaps}
	gap0 := histogram(m)
	p, err := loadPhase(ctx, "bare diago echo", "127.0.0.1:"+strconv.Itoa(port), "echo", n, func() int { return int(active.Load()) })
	p.gapP95 = p95(gap0, histogram(m))
	return p, err
}

// loadPhase has SIPp place n calls of 10 s (100 a second), measures CPU and memory while all are up, and waits for
// SIPp to finish.
func loadPhase(ctx context.Context, name, target, number string, n int, active func() int) (sipPhase, error) {
	p := sipPhase{name: name, calls: n}
	runtime.GC()
	debug.FreeOSMemory()
	rss0 := rssMiB()
	dir, err := os.MkdirTemp("", "sipp-")
	if err != nil {
		return p, err
	}
	defer os.RemoveAll(dir)
	sport, _ := freePortUDP()
	mport, _ := freePortUDP()
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	scenario, _ := filepath.Abs("bench/sipp/load.xml")
	cmd := exec.CommandContext(cctx, "sipp", "-sf", scenario, "-s", number, "-i", "127.0.0.1", "-p", strconv.Itoa(sport),
		"-mp", strconv.Itoa(mport), "-r", "100", "-l", strconv.Itoa(n), "-m", strconv.Itoa(n), "-nostdin",
		"-timeout", "60s", "-timeout_error", "-trace_stat", "-stf", filepath.Join(dir, "stat.csv"), target)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return p, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for active() < n {
		if time.Now().After(deadline) {
			p.note = fmt.Sprintf("only %d of %d calls were up at once", active(), n)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	up := active()
	time.Sleep(500 * time.Millisecond)
	cpu0, t0 := cpuSelf(), time.Now()
	time.Sleep(4 * time.Second)
	cpu1, t1 := cpuSelf(), time.Now()
	rss1 := rssMiB()
	// Calls that ended within the window (a slow ramp) spent less: the calls up are those of its two ends.
	held := (up + active()) / 2
	err = <-done
	p.cpuPerCall = (cpu1 - cpu0).Seconds() / t1.Sub(t0).Seconds() / float64(max(held, 1))
	p.rssPerCall = (rss1 - rss0) / float64(max(up, 1))
	p.calls = up
	if err != nil {
		p.failed = failedCalls(filepath.Join(dir, "stat.csv"), n)
		if p.failed == 0 {
			return p, fmt.Errorf("sipp: %v\n%s", err, lastLinesOf(out.String(), 20))
		}
	}
	return p, nil
}

func lastLinesOf(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// failedCalls reads SIPp's last statistics line: its FailedCall(C) column.
func failedCalls(path string, n int) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return n
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return n
	}
	head := strings.Split(lines[0], ";")
	last := strings.Split(lines[len(lines)-1], ";")
	for i, h := range head {
		if h == "FailedCall(C)" && i < len(last) {
			v, _ := strconv.Atoi(last[i])
			return v
		}
	}
	return n
}

// benchIVR offers IVR calls at rate a second for 10 s, then at twice and four times the rate while none fails
// and flowbin's CPU is not saturated; it states the highest rate served without a failure and what limited it.
func (fb *sipFlowbin) benchIVR(ctx context.Context, rate int) (sipPhase, error) {
	if err := fb.route("+15550100001",
		map[string]any{"type": "answer"},
		map[string]any{"type": "talk", "option": map[string]any{"text": "Press two for sales.", "language": "en-US"}},
		map[string]any{"type": "digits_receive", "option": map[string]any{"length": 1, "duration": 5000}},
		map[string]any{"type": "branch", "option": map[string]any{"target_ids": map[string]string{"2": "two"}}},
		map[string]any{"type": "hangup"},
		map[string]any{"id": "two", "type": "talk", "option": map[string]any{"text": "Sales."}},
		map[string]any{"type": "hangup"}); err != nil {
		return sipPhase{}, err
	}
	var best sipPhase
	var notes []string
	for _, r := range []int{rate, 2 * rate, 4 * rate} {
		p, cpu, err := fb.ivrAt(ctx, r)
		if err != nil {
			return best, err
		}
		notes = append(notes, fmt.Sprintf("%d/s: %d failed, flowbin %.0f%% CPU", r, p.failed, 100*cpu))
		if p.failed > 0 {
			best.note = fmt.Sprintf("%s; limit: calls failed at %d/s (%s)", best.note, r, strings.Join(notes, "; "))
			return best, nil
		}
		best = p
		best.note = fmt.Sprintf("%d calls/s served with no failure", r)
		if cpu > 0.8 {
			best.note += fmt.Sprintf("; limit: CPU (%s)", strings.Join(notes, "; "))
			return best, nil
		}
	}
	best.note += fmt.Sprintf("; limit: not reached, the rates offered (%s)", strings.Join(notes, "; "))
	return best, nil
}

// ivrAt offers IVR calls at rate a second for 10 s; it answers the phase and flowbin's share of the machine's CPU.
func (fb *sipFlowbin) ivrAt(ctx context.Context, rate int) (sipPhase, float64, error) {
	n := rate * 10
	dir, err := os.MkdirTemp("", "sipp-")
	if err != nil {
		return sipPhase{}, 0, err
	}
	defer os.RemoveAll(dir)
	sport, _ := freePortUDP()
	mport, _ := freePortUDP()
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	scenario, _ := filepath.Abs("bench/sipp/ivr.xml")
	cmd := exec.CommandContext(cctx, "sipp", "-sf", scenario, "-s", "+15550100001", "-i", "127.0.0.1", "-p", strconv.Itoa(sport),
		"-mp", strconv.Itoa(mport), "-r", strconv.Itoa(rate), "-l", strconv.Itoa(n), "-m", strconv.Itoa(n), "-nostdin",
		"-timeout", "60s", "-timeout_error", "-trace_stat", "-stf", filepath.Join(dir, "stat.csv"), fb.runner.Addr().String())
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cpu0, t0 := cpuSelf(), time.Now()
	err = cmd.Run()
	cpu1, t1 := cpuSelf(), time.Now()
	p := sipPhase{name: "ivr", calls: n}
	if err != nil {
		p.failed = failedCalls(filepath.Join(dir, "stat.csv"), n)
	}
	wall := t1.Sub(t0).Seconds()
	cpuShare := (cpu1 - cpu0).Seconds() / wall / float64(runtime.NumCPU())
	return p, cpuShare, nil
}

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

func freePortUDP() (int, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port, nil
}

// histogram reads the runner's gap histogram: cumulative counts by upper bound.
func gaugeValue(g prometheus.Gauge) float64 {
	var d dto.Metric
	if err := g.Write(&d); err != nil {
		return 0
	}
	return d.GetGauge().GetValue()
}

func histogram(m *sip.Metrics) *dto.Histogram {
	var d dto.Metric
	if err := m.Gap.Write(&d); err != nil {
		return &dto.Histogram{}
	}
	return d.GetHistogram()
}

// p95 estimates the 95th percentile of what was observed between two readings, at a bucket's upper bound.
func p95(before, after *dto.Histogram) time.Duration {
	prev := map[float64]uint64{}
	for _, b := range before.GetBucket() {
		prev[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	total := after.GetSampleCount() - before.GetSampleCount()
	if total == 0 {
		return 0
	}
	for _, b := range after.GetBucket() {
		if float64(b.GetCumulativeCount()-prev[b.GetUpperBound()]) >= 0.95*float64(total) {
			return time.Duration(b.GetUpperBound() * float64(time.Second))
		}
	}
	return time.Second
}
