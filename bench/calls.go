package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// calls holds the steps of the PostgreSQL run that drive activeflows, and the bare Echo handler: each is a step
// of benchPostgres.
type calls struct {
	ctx        context.Context
	cfg        config
	rep        *report
	a          *api
	conn       *pgx.Conn
	tmp, dbURL string

	ivrID, longID        string
	startState, avgState string // state documents flowbin stored: when an IVR call started, after an average step
}

const echoName = "bare Echo v4 handler, fixed body"

// bareEcho measures the bare Echo handler answering the body of a real flow's answer, the one of customer 1's
// first 200 flows whose size is nearest the mean of the GET measurement's answers.
func (c *calls) bareEcho() (Result, error) {
	mean := 0
	if c.rep.get.Requests > 0 {
		mean = int(c.rep.get.Bytes / int64(c.rep.get.Requests))
	}
	var body []byte
	for k := 1; k <= 200; k++ {
		status, b, err := c.a.do(c.ctx, http.MethodGet, "/v1.0/flows/"+flowID(customerFlow(k)).String(), nil)
		if err != nil {
			return Result{}, err
		}
		if status != http.StatusOK {
			return Result{}, fmt.Errorf("GET flow %d: %d %s", k, status, truncate(string(b), 300))
		}
		if body == nil || abs(len(b)-mean) < abs(len(body)-mean) {
			body = b
		}
	}
	c.rep.echoBody = len(body)
	srv, err := startBareEcho(c.ctx, c.tmp, body)
	if err != nil {
		return Result{}, err
	}
	defer srv.stop()
	echoAPI := &api{base: srv.base, token: c.a.token, client: newClient(), pid: srv.pid()}
	sc := scenario{echoName, func(ctx context.Context, _ *rand.Rand, _ uint64) *http.Request {
		return echoAPI.request(ctx, http.MethodGet, "/v1.0/flows/"+flowID(1).String(), nil)
	}}
	return measure(c.ctx, echoAPI, sc, c.cfg.warmup, c.cfg.duration)
}

// setUp writes the two flows the calls run, and drives one call of each to its end, checking every answer and
// reading back the state flowbin stored at every step: pgbench's rows carry copies of those documents.
func (c *calls) setUp() (Result, error) {
	var err error
	if c.ivrID, err = createFlow(c.ctx, c.a, ivrDefinition()); err != nil {
		return Result{}, err
	}
	if c.longID, err = createFlow(c.ctx, c.a, longDefinition()); err != nil {
		return Result{}, err
	}
	ivr, err := checkCall(c.ctx, c.a, c.conn, c.ivrID, ivrSteps, ivrAnswer)
	if err != nil {
		return Result{}, fmt.Errorf("an IVR call: %w", err)
	}
	c.startState, c.avgState = ivr.states[0], ivr.averageState()
	c.rep.stateStart, c.rep.stateLen = len(c.startState), len(c.avgState)
	long, err := checkCall(c.ctx, c.a, c.conn, c.longID, longTalks+2, loopAnswer)
	if err != nil {
		return Result{}, fmt.Errorf("a 100-step call: %w", err)
	}
	c.rep.longState = [2]int{len(long.states[1]), len(long.states[longTalks])}
	logf("  IVR state %s at the start, %s after an average step; 100-step call's state %s after step 1, %s after step 100",
		size(int64(c.rep.stateStart)), size(int64(c.rep.stateLen)), size(int64(c.rep.longState[0])), size(int64(c.rep.longState[1])))
	return Result{}, nil
}

// pgStart inserts activeflow rows like the ones a call's start writes, as customer 2 (whose activeflows flowbin's
// scenarios never read).
func (c *calls) pgStart() (Result, error) {
	return runPgbench(c.ctx, c.tmp, c.dbURL, pgbenchRun{Name: "pgbench: INSERT an activeflow",
		Script: "activeflow_insert.sql", Defines: []string{"customer=" + customerID(1).String(), "flow=" + c.ivrID,
			"state=" + c.startState}}, c.cfg.warmup, c.cfg.duration)
}

func (c *calls) start() (Result, error) {
	body := startBody(c.ivrID)
	sc := scenario{"POST /v1.0/activeflows (a call starts)", func(ctx context.Context, _ *rand.Rand, _ uint64) *http.Request {
		return c.a.request(ctx, http.MethodPost, "/v1.0/activeflows", body)
	}}
	return measure(c.ctx, c.a, sc, c.cfg.warmup, c.cfg.duration)
}

// pgStep seeds pgbench's own activeflow rows, then runs its read + update of them.
func (c *calls) pgStep() (Result, error) {
	if err := seedStepRows(c.ctx, c.conn, c.ivrID, c.avgState); err != nil {
		return Result{}, fmt.Errorf("seed the step rows: %w", err)
	}
	return runPgbench(c.ctx, c.tmp, c.dbURL, pgbenchRun{Name: "pgbench: SELECT + UPDATE an activeflow (one transaction)",
		Script: "activeflow_step.sql", Defines: []string{"customer=" + customerID(1).String(),
			"rows=" + strconv.Itoa(stepRows), "newstate=" + c.avgState}}, c.cfg.warmup, c.cfg.duration)
}

// steps drives the calls the start scenario left at their first step: every request is a step.
func (c *calls) steps() (Result, error) {
	pool, err := runningCalls(c.ctx, c.conn, c.ivrID)
	if err != nil {
		return Result{}, err
	}
	c.rep.pool = len(pool)
	res, err := driveCalls(c.ctx, c.a, callRun{name: "POST /v1.0/activeflows/{id}/next (a step)", flowID: c.ivrID,
		pool: pool, wantEnd: "hangup"}, c.cfg.warmup, c.cfg.duration)
	if err != nil {
		return Result{}, err
	}
	c.rep.steps = res
	if res.starts.Requests > 0 {
		logf("  the %s started calls ran out: %d calls started during the measured phase", thousands(len(pool)), res.starts.Requests)
	}
	return res.steps, nil
}

// outboxCalls is ivrCalls while the customer has a webhook: every change of every call writes its event to the
// outbox in the change's transaction, and the server delivers them meanwhile to a receiver of the bench's.
func (c *calls) outboxCalls() (Result, error) {
	var received atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	receiver := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go receiver.Serve(ln)
	defer receiver.Close()
	hook := fmt.Sprintf(`{"webhook_uri":"http://%s/events"}`, ln.Addr())
	if err := c.a.call(c.ctx, http.MethodPut, "/v1.0/customer", []byte(hook), nil); err != nil {
		return Result{}, fmt.Errorf("set the customer's webhook: %w", err)
	}
	defer c.a.call(context.WithoutCancel(c.ctx), http.MethodPut, "/v1.0/customer", []byte(`{"webhook_uri":""}`), nil)
	res, err := driveCalls(c.ctx, c.a, callRun{name: "IVR calls with a customer webhook: the steps", flowID: c.ivrID, wantEnd: "hangup"},
		c.cfg.warmup, c.cfg.duration)
	if err != nil {
		return Result{}, err
	}
	c.rep.outbox = res
	c.rep.delivered = int(received.Load())
	logf("  %.0f calls/s; %d events received", res.callRate(), c.rep.delivered)
	return res.steps, nil
}

// ivrCalls starts and finishes IVR calls back to back.
func (c *calls) ivrCalls() (Result, error) {
	res, err := driveCalls(c.ctx, c.a, callRun{name: "IVR calls end to end: the steps", flowID: c.ivrID, wantEnd: "hangup"},
		c.cfg.warmup, c.cfg.duration)
	if err != nil {
		return Result{}, err
	}
	res.starts.Name = "IVR calls end to end: the starts"
	c.rep.ivr = res
	logf("  %.0f calls/s; starts p50 %s", res.callRate(), ms(res.starts.P50))
	return res.steps, nil
}

// longCalls drives 100-step calls. First one runner alone, so that a step's latency is its own cost (not time spent
// queueing behind other requests): its 100th step's latency is compared with its 1st's. Then 32 runners, for the
// rate of a long call's steps under load, each runner's first call left at another step, so that the runners are
// spread over the call once each has made a call's steps; then each makes a call's steps more, measured.
func (c *calls) longCalls() (Result, error) {
	const minCalls = 10 // of the single runner, measured
	one, err := driveCalls(c.ctx, c.a, callRun{name: "a 100-step call, one runner: the steps", flowID: c.longID,
		wantEnd: "hangup", perIndex: true, runners: 1, measureSteps: minCalls * (longTalks + 2), maxPhase: 60 * time.Second},
		c.cfg.warmup, c.cfg.duration)
	if err != nil {
		return Result{}, err
	}
	c.rep.longOne = one
	logf("  one runner: %.0f steps/s; p50 by step: %s", one.steps.Rate(), one.stepProfile())
	perCall := clients * (longTalks + 2)
	res, err := driveCalls(c.ctx, c.a, callRun{name: "100-step calls, 32 runners: the steps", flowID: c.longID,
		wantEnd: "hangup", stagger: longTalks + 2, warmSteps: perCall, measureSteps: perCall, maxPhase: 60 * time.Second},
		c.cfg.warmup, c.cfg.duration)
	if err != nil {
		return Result{}, err
	}
	c.rep.long = res
	return res.steps, nil
}
