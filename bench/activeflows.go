package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flowbin/flowbin/flow"
)

// Calls: activeflows driven as a runner (the telephony side) drives them. A call starts with
// POST /v1.0/activeflows, and the runner reports each action it performed with POST /v1.0/activeflows/{id}/next,
// sending back the current action's id and step, until the activeflow answers "status":"ended".

// The realistic IVR: answer, a greeting with the menu, one digit, a branch on it, the department's message,
// hangup. Its calls report 5 steps (answer, talk, digits_receive, talk, hangup; the branch is the engine's).
var (
	ivrAnswer  = uuid.MustParse("00000000-0000-4000-8000-00000000c001")
	ivrMenu    = uuid.MustParse("00000000-0000-4000-8000-00000000c002")
	ivrDigits  = uuid.MustParse("00000000-0000-4000-8000-00000000c003")
	ivrBranch  = uuid.MustParse("00000000-0000-4000-8000-00000000c004")
	ivrSales   = uuid.MustParse("00000000-0000-4000-8000-00000000c005")
	ivrSupport = uuid.MustParse("00000000-0000-4000-8000-00000000c006")
	ivrHangup  = uuid.MustParse("00000000-0000-4000-8000-00000000c007")

	loopAnswer = uuid.MustParse("00000000-0000-4000-8000-00000000d001")
	loopTalk   = uuid.MustParse("00000000-0000-4000-8000-00000000d002")
	loopGoto   = uuid.MustParse("00000000-0000-4000-8000-00000000d003")
	loopHangup = uuid.MustParse("00000000-0000-4000-8000-00000000d004")
)

const (
	ivrSteps = 5 // the /next reports of one IVR call
	// longTalks is how often the long call's talk runs: with its answer and hangup, the call reports
	// longTalks+2 steps, and its engine runs 2*longTalks+2 actions (every talk but the last is followed by a goto).
	longTalks = 100
	// longMaxExecuted is FLOWBIN_MAX_EXECUTED_ACTIONS of the run: the long call runs 202 actions, over the
	// default 100.
	longMaxExecuted = 300
	// stepRows is how many activeflow rows pgbench's step script picks from.
	stepRows = 10_000
)

func jsonOption(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// ivrDefinition is the IVR a call runs.
func ivrDefinition() *definition {
	talk := func(text string) json.RawMessage {
		return jsonOption(map[string]any{"text": text, "language": "en-US"})
	}
	return &definition{
		Name:   "bench IVR",
		Detail: "answer, menu, one digit, branch, the department's message, hangup",
		Actions: []flow.Action{
			{ID: ivrAnswer, Type: flow.TypeAnswer},
			{ID: ivrMenu, Type: flow.TypeTalk, Option: talk(talkTexts[0] + " " + talkTexts[1])},
			{ID: ivrDigits, Type: flow.TypeDigitsReceive, Option: jsonOption(map[string]any{"duration": 5000, "key": "#", "length": 1})},
			{ID: ivrBranch, Type: flow.TypeBranch, Option: jsonOption(map[string]any{
				"variable": "voipbin.call.digits", "default_target_id": ivrSupport.String(),
				"target_ids": map[string]string{"1": ivrSales.String(), "2": ivrSupport.String()}})},
			{ID: ivrSales, Type: flow.TypeTalk, NextID: ivrHangup, Option: talk("Connecting you to sales. " + talkTexts[2])},
			{ID: ivrSupport, Type: flow.TypeTalk, Option: talk("Connecting you to support. " + talkTexts[2])},
			{ID: ivrHangup, Type: flow.TypeHangup},
		},
	}
}

// longDefinition is a call of longTalks+2 steps: answer, then a talk that a goto repeats, then hangup.
func longDefinition() *definition {
	return &definition{
		Name:   "bench long call",
		Detail: "answer, then the same message " + strconv.Itoa(longTalks) + " times, then hangup",
		Actions: []flow.Action{
			{ID: loopAnswer, Type: flow.TypeAnswer},
			{ID: loopTalk, Type: flow.TypeTalk, Option: jsonOption(map[string]any{"text": talkTexts[2], "language": "en-US"})},
			{ID: loopGoto, Type: flow.TypeGoto, Option: jsonOption(map[string]any{"target_id": loopTalk.String(), "loop_count": longTalks - 1})},
			{ID: loopHangup, Type: flow.TypeHangup},
		},
	}
}

// call is where an activeflow is, as its runner knows it.
type call struct {
	id        string
	actionID  string
	step      int
	ended     bool
	endReason string
}

// parseCall reads an activeflow answer. id is the activeflow's id when known: answers of next are read only as
// far as the runner needs (the current action and the status), as a runner would, so that the load generator
// does not spend the CPUs the server needs on decoding every executed action.
func parseCall(b []byte, id string) (call, error) {
	if id == "" {
		var full struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &full); err != nil {
			return call{}, fmt.Errorf("activeflow answer: %w", err)
		}
		id = full.ID
	}
	c := call{id: id}
	var top struct {
		Status    string `json:"status"`
		EndReason string `json:"end_reason"`
	}
	// Top-level status and end_reason: every other object of the answer is inside executed_actions or
	// current_action, which a decoder skips as values of unknown keys. Reading them costs a scan, not a decode.
	if err := json.Unmarshal(b, &top); err != nil {
		return call{}, fmt.Errorf("activeflow answer: %w", err)
	}
	if top.Status == "ended" {
		c.ended, c.endReason = true, top.EndReason
		return c, nil
	}
	i := bytes.Index(b, []byte(`"current_action":`))
	if i < 0 {
		return call{}, fmt.Errorf("activeflow answer: running, without current_action: %s", truncate(string(b), 300))
	}
	var cur struct {
		ID   string `json:"id"`
		Step int    `json:"step"`
	}
	if err := json.NewDecoder(bytes.NewReader(b[i+len(`"current_action":`):])).Decode(&cur); err != nil {
		return call{}, fmt.Errorf("activeflow answer: current_action: %w", err)
	}
	c.actionID, c.step = cur.ID, cur.Step
	return c, nil
}

// nextBody is the runner's report of the call's current action.
func nextBody(c call) []byte {
	return []byte(`{"current_action_id":"` + c.actionID + `","step":` + strconv.Itoa(c.step) +
		`,"variables":{"voipbin.call.digits":"1"}}`)
}

// startBody starts a call of a flow.
func startBody(flowID string) []byte { return []byte(`{"flow_id":"` + flowID + `"}`) }

// do sends one request outside measure/drive and reads its answer: the status and body.
func (a *api) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	resp, err := a.client.Do(a.request(ctx, method, path, body))
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, b, err
}

// createFlow writes a flow through the API and answers its id.
func createFlow(ctx context.Context, a *api, def *definition) (string, error) {
	var f apiFlow
	if err := a.call(ctx, http.MethodPost, "/v1.0/flows", def.body(), &f); err != nil {
		return "", err
	}
	return f.ID, nil
}

// stateSize is the size of the state document flowbin stored for an activeflow, and the document.
func stateSize(ctx context.Context, conn *pgx.Conn, id string) (string, error) {
	var s string
	err := conn.QueryRow(ctx, `SELECT state::text FROM activeflows WHERE id = $1`, id).Scan(&s)
	return s, err
}

// callCheck drives one call through the API to its end outside any measurement, checks every answer (where the
// call goes, and that it ends by hangup after want steps), and reads back the state flowbin stored after the start
// and after every step.
type callCheck struct {
	states []string // the stored state after the start, then after each step
}

func checkCall(ctx context.Context, a *api, conn *pgx.Conn, flowID string, wantSteps int, firstAction uuid.UUID) (callCheck, error) {
	var out callCheck
	status, b, err := a.do(ctx, http.MethodPost, "/v1.0/activeflows", startBody(flowID))
	if err != nil {
		return out, err
	}
	if status != http.StatusOK {
		return out, fmt.Errorf("POST /v1.0/activeflows: %d %s", status, truncate(string(b), 400))
	}
	c, err := parseCall(b, "")
	if err != nil {
		return out, err
	}
	if c.ended || c.actionID != firstAction.String() || c.step != 1 {
		return out, fmt.Errorf("a call of %s starts at %s step %d (ended %v), want %s step 1", flowID, c.actionID, c.step, c.ended, firstAction)
	}
	st, err := stateSize(ctx, conn, c.id)
	if err != nil {
		return out, err
	}
	out.states = append(out.states, st)
	for n := 1; ; n++ {
		status, b, err := a.do(ctx, http.MethodPost, "/v1.0/activeflows/"+c.id+"/next", nextBody(c))
		if err != nil {
			return out, err
		}
		if status != http.StatusOK {
			return out, fmt.Errorf("next, step %d of a call of %s: %d %s", n, flowID, status, truncate(string(b), 400))
		}
		if c, err = parseCall(b, c.id); err != nil {
			return out, err
		}
		st, err := stateSize(ctx, conn, c.id)
		if err != nil {
			return out, err
		}
		out.states = append(out.states, st)
		if c.ended {
			if n != wantSteps || c.endReason != "hangup" {
				return out, fmt.Errorf("a call of %s ended (%s) after %d steps, want hangup after %d", flowID, c.endReason, n, wantSteps)
			}
			return out, nil
		}
		if n >= wantSteps {
			return out, fmt.Errorf("a call of %s runs on after %d steps, at %s", flowID, n, c.actionID)
		}
	}
}

// averageState is the stored state (after a step) whose size is nearest the steps' mean: pgbench's step writes it.
func (c callCheck) averageState() string {
	steps := c.states[1:]
	var sum int
	for _, s := range steps {
		sum += len(s)
	}
	mean := sum / len(steps)
	best := steps[0]
	for _, s := range steps {
		if abs(len(s)-mean) < abs(len(best)-mean) {
			best = s
		}
	}
	return best
}

func abs(n int) int { return max(n, -n) }

// seedStepRows writes the rows pgbench's step script reads and updates: activeflows of customer 2 (not the
// measured customer's) with ids md5('step' || n), in the state flowbin stored when one of its calls started.
func seedStepRows(ctx context.Context, conn *pgx.Conn, flowID, state string) error {
	_, err := conn.Exec(ctx, `INSERT INTO activeflows (id, customer_id, flow_id, flow_revision, status, end_reason,
	state, version, tm_create) SELECT md5('step' || n)::uuid, $1, $2, 1, 'running', '', $3::json, 1, clock_timestamp()
	FROM generate_series(1, $4::int) AS n`, customerID(1), flowID, state, stepRows)
	if err == nil {
		_, err = conn.Exec(ctx, "VACUUM ANALYZE activeflows")
	}
	return err
}

// runningCalls are activeflows of the IVR that flowbin's start scenario left at their first step, for the step
// scenario to drive: there, every request is a step.
func runningCalls(ctx context.Context, conn *pgx.Conn, flowID string) ([]call, error) {
	rows, err := conn.Query(ctx, `SELECT id::text FROM activeflows WHERE customer_id = $1 AND flow_id = $2
	AND status = 'running' AND version = 1 AND tm_delete IS NULL`, customerID(0), flowID)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	calls := make([]call, len(ids))
	for i, id := range ids {
		calls[i] = call{id: id, actionID: ivrAnswer.String(), step: 1}
	}
	return calls, nil
}

// callRun is a measurement of calls.
type callRun struct {
	name     string // of the steps' Result
	flowID   string // the flow a call starts
	pool     []call // calls to drive before starting new ones (taken in turn by every worker)
	stagger  int    // the first call of worker w is left after w*stagger/clients steps (spreads the workers over a long call)
	perIndex bool   // keep each step's latency by its number in the call
	wantEnd  string // how every call must end
	// warmSteps and measureSteps, when set, also bound the phases by the steps sent (the warm-up ends when
	// warmSteps were sent and warmup has passed; the measured phase when measureSteps more were and dur has),
	// each phase lasting at most maxPhase.
	warmSteps, measureSteps int
	maxPhase                time.Duration
	runners                 int // 0: clients
}

// callResult is what a call measurement saw in its measured phase.
type callResult struct {
	starts, steps Result
	calls         int                     // calls that ended in the measured phase
	fromPool      int                     // calls of the pool driven (measured phase and warm-up)
	byIndex       map[int][]time.Duration // step number in the call (1 = the first next) → latencies, sorted
	bytesByIndex  map[int]int64           // step number in the call → bytes of its answers, summed
}

func (c callResult) callRate() float64 {
	if c.steps.Elapsed <= 0 {
		return 0
	}
	return float64(c.calls) / c.steps.Elapsed.Seconds()
}

// driveCalls runs `clients` runners (or run.runners): each takes a call of the pool, or starts one, and reports its steps back to
// back until it ends, then the next. Requests sent in the measured phase (after the warm-up) are counted, by kind:
// starts and steps. The server's CPU is taken over the measured phase.
func driveCalls(ctx context.Context, a *api, run callRun, warmup, dur time.Duration) (callResult, error) {
	type worker struct {
		starts, steps []time.Duration
		byIndex       map[int][]time.Duration
		bytesByIndex  map[int]int64
		calls         int
		fromPool      int
		bytes         int64
		statuses      map[string]int
		sample        string
	}
	runners := run.runners
	if runners == 0 {
		runners = clients
	}
	workers := make([]worker, runners)
	var poolMu sync.Mutex
	pool := run.pool
	take := func() (call, bool) {
		poolMu.Lock()
		defer poolMu.Unlock()
		if len(pool) == 0 {
			return call{}, false
		}
		c := pool[len(pool)-1]
		pool = pool[:len(pool)-1]
		return c, true
	}
	// The phases: 0 warm-up, 1 measured, 2 done. A request counts when it was sent in the measured phase.
	const (
		warming = iota
		measuring
		done
	)
	var phase atomic.Int32
	var sent atomic.Int64 // steps sent, every phase
	var wg sync.WaitGroup
	for w := range workers {
		wk := &workers[w]
		wk.statuses, wk.byIndex, wk.bytesByIndex = map[string]int{}, map[int][]time.Duration{}, map[int]int64{}
		leaveAfter := w * run.stagger / runners // the first call only
		wg.Go(func() {
			fail := func(key, sample string, in bool) {
				if !in {
					return
				}
				wk.statuses[key]++
				if wk.sample == "" {
					wk.sample = sample
				}
			}
			// post sends one request and reads the whole answer; ok is a 200 whose body is b; in says whether it
			// was sent in the measured phase.
			post := func(path string, body []byte) (b []byte, in bool, lat time.Duration, ok bool) {
				in = phase.Load() == measuring
				t := time.Now()
				resp, err := a.client.Do(a.request(ctx, http.MethodPost, path, body))
				if err != nil {
					if ctx.Err() == nil {
						fail("no answer", err.Error(), in)
					}
					return nil, in, time.Since(t), false
				}
				b, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				lat = time.Since(t)
				switch {
				case err != nil:
					fail("answer cut off", err.Error(), in)
				case resp.StatusCode != http.StatusOK:
					fail(strconv.Itoa(resp.StatusCode), fmt.Sprintf("POST %s → %d %s", path, resp.StatusCode,
						truncate(string(b), 400)), in)
				default:
					return b, in, lat, true
				}
				return nil, in, lat, false
			}
			running := func() bool { return ctx.Err() == nil && phase.Load() != done }
			first := true
			for running() {
				c, ok := take()
				if ok {
					wk.fromPool++
				} else {
					b, in, lat, ok := post("/v1.0/activeflows", startBody(run.flowID))
					if in {
						wk.starts = append(wk.starts, lat)
						wk.bytes += int64(len(b))
					}
					if !ok {
						continue
					}
					var err error
					if c, err = parseCall(b, ""); err != nil {
						fail("bad answer", err.Error(), in)
						continue
					}
				}
				for n := 1; !c.ended && running(); n++ {
					if first && run.stagger > 0 && n > leaveAfter {
						break // left running: the next call starts elsewhere in the call than the other workers'
					}
					sent.Add(1)
					b, in, lat, ok := post("/v1.0/activeflows/"+c.id+"/next", nextBody(c))
					if in {
						wk.steps = append(wk.steps, lat)
						wk.bytes += int64(len(b))
						if run.perIndex {
							wk.byIndex[n] = append(wk.byIndex[n], lat)
							wk.bytesByIndex[n] += int64(len(b))
						}
					}
					if !ok {
						break
					}
					var err error
					if c, err = parseCall(b, c.id); err != nil {
						fail("bad answer", err.Error(), in)
						break
					}
					if c.ended {
						if c.endReason != run.wantEnd {
							fail("ended "+c.endReason, fmt.Sprintf("a call ended %q after %d steps, want %q", c.endReason, n, run.wantEnd), in)
						} else if in && phase.Load() == measuring {
							wk.calls++
						}
					}
				}
				first = false
			}
		})
	}
	// The coordinator moves the phases on, and takes the server's and this process's CPU over the measured one.
	var cpu0, cpu1, self0, self1 time.Duration
	var cpuErr error
	var from, until time.Time
	var sent0 int64
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	for phase.Load() != done && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case now := <-tick.C:
			switch phase.Load() {
			case warming:
				warm := now.Sub(start) >= warmup
				if run.warmSteps > 0 {
					warm = warm && sent.Load() >= int64(run.warmSteps) || now.Sub(start) >= run.maxPhase
				}
				if warm {
					from, sent0 = now, sent.Load()
					cpu0, cpuErr = procCPU(a.pid)
					self0, _ = procCPU(os.Getpid())
					phase.Store(measuring)
				}
			case measuring:
				end := now.Sub(from) >= dur
				if run.measureSteps > 0 {
					end = end && sent.Load()-sent0 >= int64(run.measureSteps) || now.Sub(from) >= run.maxPhase
				}
				if end {
					until = now
					var err error
					cpu1, err = procCPU(a.pid)
					self1, _ = procCPU(os.Getpid())
					cpuErr = errors.Join(cpuErr, err)
					phase.Store(done)
				}
			}
		}
	}
	tick.Stop()
	phase.Store(done)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return callResult{}, err
	}
	elapsed := until.Sub(from)
	out := callResult{byIndex: map[int][]time.Duration{}, bytesByIndex: map[int]int64{}}
	out.starts = Result{Name: "POST /v1.0/activeflows (in the calls)", Elapsed: elapsed, Statuses: map[string]int{}}
	out.steps = Result{Name: run.name, Elapsed: elapsed, Statuses: map[string]int{}}
	if cpuErr == nil {
		out.steps.ServerCPU = cpu1 - cpu0
	}
	out.steps.ClientCPU = self1 - self0
	var starts, steps []time.Duration
	for _, wk := range workers {
		starts = append(starts, wk.starts...)
		steps = append(steps, wk.steps...)
		out.calls += wk.calls
		out.fromPool += wk.fromPool
		out.steps.Bytes += wk.bytes
		for k, v := range wk.statuses {
			out.steps.Statuses[k] += v
			out.steps.Errors += v
		}
		if out.steps.Sample == "" {
			out.steps.Sample = wk.sample
		}
		for n, l := range wk.byIndex {
			out.byIndex[n] = append(out.byIndex[n], l...)
		}
		for n, b := range wk.bytesByIndex {
			out.bytesByIndex[n] += b
		}
	}
	for _, l := range out.byIndex {
		slices.Sort(l)
	}
	slices.Sort(starts)
	slices.Sort(steps)
	out.starts.Requests, out.steps.Requests = len(starts), len(steps)
	out.starts.setLatencies(starts)
	out.steps.setLatencies(steps)
	if len(starts) > 0 {
		out.steps.AllRequests = len(starts) + len(steps) // bytes and CPU are of both kinds
	}
	return out, nil
}

// median of sorted latencies.
func median(sorted []time.Duration) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)/2]
}

// answerSize is the mean size of the answers of the call's nth step (1 = the first next).
func (c callResult) answerSize(n int) int64 {
	if len(c.byIndex[n]) == 0 {
		return 0
	}
	return c.bytesByIndex[n] / int64(len(c.byIndex[n]))
}

// stepProfile is the p50 latency of some of the call's steps, by their number: 1st, 25th, 50th, 75th, 100th.
func (c callResult) stepProfile() string {
	var parts []string
	for _, n := range []int{1, 25, 50, 75, longTalks} {
		parts = append(parts, fmt.Sprintf("%d: %s", n, ms(median(c.byIndex[n]))))
	}
	return strings.Join(parts, ", ")
}
