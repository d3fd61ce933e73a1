package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// clients is the concurrency of every measurement: 32 goroutines on 32 keep-alive connections, and pgbench's -c.
const clients = 32

// Result is one measured scenario.
type Result struct {
	Name     string
	Requests int
	Elapsed  time.Duration
	P50, P99 time.Duration
	Mean     time.Duration
	// Errors counts answers outside 2xx and requests that got no answer; Statuses breaks them down.
	Errors   int
	Statuses map[string]int
	Sample   string // the first error answer, as the client saw it

	Bytes     int64         // of the 2xx answers' bodies
	ServerCPU time.Duration // CPU time (user + system) of the flowbin process during the measurement
	ClientCPU time.Duration // CPU time of the load generator (this process) or of pgbench

	// AllRequests counts the requests of every kind the measurement sent, where Requests counts only its own
	// (the steps of a call scenario, which also starts calls): CPU and bytes per request are per AllRequests.
	AllRequests int

	PgbenchTPS float64 // pgbench's own rate (excluding connection time), which Rate reports when set
	Output     string  // pgbench's summary
}

// Rate is requests (or transactions) per second.
func (r Result) Rate() float64 {
	if r.PgbenchTPS > 0 {
		return r.PgbenchTPS
	}
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// setLatencies sets the percentiles from every request's latency, sorted: exact nearest-rank values.
func (r *Result) setLatencies(sorted []time.Duration) {
	if len(sorted) == 0 {
		return
	}
	rank := func(p float64) time.Duration {
		i := int(float64(len(sorted))*p+0.999999) - 1
		return sorted[min(max(i, 0), len(sorted)-1)]
	}
	r.P50, r.P99 = rank(0.50), rank(0.99)
	if r.Mean == 0 {
		var sum time.Duration
		for _, d := range sorted {
			sum += d
		}
		r.Mean = sum / time.Duration(len(sorted))
	}
}

// newClient is the load generator's HTTP client: one transport that keeps exactly `clients` connections open.
func newClient() *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // never through an HTTP_PROXY of the environment
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		MaxConnsPerHost:     clients,
		IdleConnTimeout:     5 * time.Minute,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// api is a logged-in flowbin server.
type api struct {
	base   string // http://host:port
	token  string
	client *http.Client
	pid    int // of the server process, for its CPU time
}

func (a *api) request(ctx context.Context, method, path string, body []byte) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		panic(err) // method and URL are built by this program
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// scenario makes the requests of one measurement. next is called concurrently, with the worker's own random
// source and a sequence number unique over the run.
type scenario struct {
	name string
	next func(ctx context.Context, rng *rand.Rand, seq uint64) *http.Request
}

// requestSeq numbers every request of the run, warm-ups included: PUT bodies carry it, so no two are alike.
var requestSeq atomic.Uint64

// measure runs a scenario: a warm-up whose answers are discarded, then the measured phase.
func measure(ctx context.Context, a *api, sc scenario, warmup, dur time.Duration) (Result, error) {
	if warmup > 0 {
		if _, err := drive(ctx, a, sc, warmup, nil); err != nil {
			return Result{}, err
		}
	}
	return drive(ctx, a, sc, dur, nil)
}

// drive runs `clients` workers that send requests back to back until dur has passed, recording every request's
// latency, and the CPU time the server used meanwhile. tick, when set, is called every second with the seconds
// elapsed (the soak samples RSS with it).
func drive(ctx context.Context, a *api, sc scenario, dur time.Duration, tick func(int)) (Result, error) {
	type worker struct {
		lat      []time.Duration
		bytes    int64
		statuses map[string]int
		sample   string
	}
	workers := make([]worker, clients)
	client := a.client
	cpu0, cpuErr := procCPU(a.pid)
	self0, selfErr := procCPU(os.Getpid())
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for w := range workers {
		wk := &workers[w]
		wk.statuses = map[string]int{}
		wk.lat = make([]time.Duration, 0, 1<<14)
		rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				req := sc.next(ctx, rng, requestSeq.Add(1))
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					wk.lat = append(wk.lat, time.Since(t))
					wk.statuses["no answer"]++
					if wk.sample == "" {
						wk.sample = err.Error()
					}
					continue
				}
				var errBody []byte
				var n int64
				if resp.StatusCode/100 == 2 {
					n, err = io.Copy(io.Discard, resp.Body) // the whole answer, as a client reads it
				} else {
					errBody, err = io.ReadAll(resp.Body)
				}
				wk.bytes += n
				resp.Body.Close()
				wk.lat = append(wk.lat, time.Since(t))
				switch {
				case err != nil:
					wk.statuses["answer cut off"]++
					if wk.sample == "" {
						wk.sample = err.Error()
					}
				case resp.StatusCode/100 != 2:
					wk.statuses[strconv.Itoa(resp.StatusCode)]++
					if wk.sample == "" {
						wk.sample = fmt.Sprintf("%s %s → %d %s", req.Method, req.URL.Path, resp.StatusCode,
							truncate(strings.TrimSpace(string(errBody)), 400))
					}
				}
			}
		})
	}
	if tick != nil {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for s := 1; ; s++ {
				select {
				case <-stop:
					return
				case <-t.C:
					tick(s)
				}
			}
		}()
		defer func() { close(stop); <-done }()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	res := Result{Name: sc.name, Elapsed: time.Since(start), Statuses: map[string]int{}}
	if cpu1, err := procCPU(a.pid); err == nil && cpuErr == nil {
		res.ServerCPU = cpu1 - cpu0
	}
	if self1, err := procCPU(os.Getpid()); err == nil && selfErr == nil {
		res.ClientCPU = self1 - self0
	}
	var lat []time.Duration
	for _, wk := range workers {
		lat = append(lat, wk.lat...)
		res.Bytes += wk.bytes
		for k, v := range wk.statuses {
			res.Statuses[k] += v
			res.Errors += v
		}
		if res.Sample == "" {
			res.Sample = wk.sample
		}
	}
	res.Requests = len(lat)
	slices.Sort(lat)
	res.setLatencies(lat)
	return res, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// readEach GETs each of the flows once, with `clients` workers, as a platform that has been placing calls for a
// while has: the measurements of GET by id that follow see flowbin in its steady state. Every answer must be 200.
func readEach(ctx context.Context, a *api, ids []string) (time.Duration, error) {
	start := time.Now()
	var next atomic.Int64
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(ids)) || ctx.Err() != nil {
					return
				}
				resp, err := a.client.Do(a.request(ctx, http.MethodGet, "/v1.0/flows/"+ids[i], nil))
				if err != nil {
					errs <- err
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET /v1.0/flows/%s: status %d", ids[i], resp.StatusCode)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("read each flow: %w", err)
	}
	return time.Since(start), ctx.Err()
}
