package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// FlowStatsQuery selects the executions a flow's statistics count: the customer's activeflows of one flow
// revision created in [Since, Until).
type FlowStatsQuery struct {
	CustomerID, FlowID uuid.UUID
	Revision           int
	Since, Until       time.Time
}

// FlowStats is how the selected executions went through the flow's own actions.
type FlowStats struct {
	Executions, Running int
	// Ends counts the ended executions by end_reason ("" when they have none).
	Ends    map[string]int
	Actions map[uuid.UUID]*ActionStats
	Edges   []EdgeStats
}

// ActionStats is how the executions went through one action.
type ActionStats struct {
	Type string
	// Entered counts executions that moved to the action at least once, Visits every move to it.
	Entered, Visits int
	// EndReasons counts the ended executions whose last action was this one, by end_reason.
	EndReasons map[string]int
	// MedianMS is the median time from moving to the action to the next move (or the execution's end), of the
	// times rounded to the millisecond below a second and to three significant digits from a second on; nil
	// without a sample.
	MedianMS *int64
}

// EdgeStats counts the moves from one of the flow's actions to another in consecutive steps.
type EdgeStats struct {
	From, To uuid.UUID
	Count    int
}

// How the statistics are computed (openapi.yaml's getFlowStats says it to the API's users). The window's closed
// hours are added up from flow_stats_hours, sums that the statistics' own statement computed from the action rows
// the first time an hour was asked for: what the executions created in that hour that lasted less than
// statsSummedUnder did. An hour is closed once every such execution has ended. Everything else is computed from the
// rows on every request: the window's partial hours, the hours not closed yet, and the executions of summed hours
// that are still running or lasted longer. Which executions a sum covers depends on their own rows only (created
// in the hour, ended, in less than statsSummedUnder), so a request tells them from the others without reading the
// sums; and a sum is checked on every request against the number of executions it covers, so that a deleted
// execution (or an end written later than statsSettle allows for) makes the hour be computed again.
//
// The medians need the times themselves, not only their count: a sum keeps, per action, how many times fell on
// each value rounded to the millisecond below a second and to three significant digits from a second on (1,234 ms
// is 1,230 ms), which keeps a sum small whatever the number of executions. Every median is of the rounded times,
// summed or not, so that a window answers the same whichever hours were summed.
const (
	// statsSummedUnder is how long an execution may last and be summed; longer ones (few calls last an hour) are
	// computed from their rows on every request.
	statsSummedUnder = time.Hour
	// statsSettle is how long after the last moment a summed execution can end (its hour's end + statsSummedUnder)
	// the hour is closed: longer than any clock skew between instances or any statement's time between its
	// timestamp and its commit.
	statsSettle = time.Minute
	// statsHoursPerStatement bounds the hours one statement sums, and so its parameters.
	statsHoursPerStatement = 96
)

// flowStatsSQL is the statement behind the statistics, in two dialects that differ only in the time arithmetic
// and the rounding. It reads the executions (e, each with hr, the index of the hour it is summed into, 0 when it is
// not summed), and their action rows in step order, with the previous action and the next move (LAG and LEAD over
// all of an execution's rows, so that a move into or out of another flow's actions is not mistaken for a move
// between two of this flow's) and whether the row is the execution's first visit of its action (s, the rows of
// this flow's own actions, narrow). It answers tagged rows, by hr:
//
//	x  n executions
//	p  a action_id, b previous own action or NULL, c end_reason when the execution ended there or NULL,
//	   t action_type, n moves, m first visits   every move to an own action, grouped
//	h  a action_id, m time spent, rounded (ms), n how many times
const flowStatsSQL = `
WITH e AS MATERIALIZED (
  {{e}}
), w AS (
  SELECT x.action_id, x.action_type, x.flow_id, x.flow_revision, x.step, x.activeflow_id, e.hr,
    CASE WHEN LAG(x.flow_id) OVER w = @flow AND LAG(x.flow_revision) OVER w = @revision
      THEN LAG(x.action_id) OVER w END AS prev_action,
    CASE WHEN LEAD(x.step) OVER w IS NULL AND e.status = 'ended' THEN e.end_reason END AS ended_reason,
    {{ms}} AS ms
  FROM activeflow_actions x JOIN e ON e.id = x.activeflow_id
  WHERE x.customer_id = @customer
  WINDOW w AS (PARTITION BY x.activeflow_id ORDER BY x.step)
), s AS MATERIALIZED (
  SELECT hr, action_id, action_type, prev_action, ended_reason, {{rounded}} AS ms,
    CASE WHEN step = MIN(step) OVER (PARTITION BY activeflow_id, action_id) THEN 1 ELSE 0 END AS first_visit
  FROM w WHERE flow_id = @flow AND flow_revision = @revision
)
SELECT 'x' AS kind, hr, CAST(NULL AS text) AS a, CAST(NULL AS text) AS b, CAST(NULL AS text) AS c, '' AS t,
  COUNT(*) AS n, CAST(0 AS bigint) AS m
FROM e GROUP BY hr
UNION ALL
SELECT 'p', hr, CAST(action_id AS text), CAST(prev_action AS text), ended_reason, MIN(action_type), COUNT(*),
  SUM(first_visit)
FROM s GROUP BY hr, action_id, prev_action, ended_reason
UNION ALL
SELECT 'h', hr, CAST(action_id AS text), NULL, NULL, '', COUNT(*), ms
FROM s WHERE ms IS NOT NULL GROUP BY hr, action_id, ms`

// statsExecutionsSQL counts the window's executions by status and end reason, from their rows alone.
const statsExecutionsSQL = `SELECT status, end_reason, COUNT(*) AS n FROM activeflows
WHERE flow_id = @flow AND flow_revision = @revision AND customer_id = @customer AND tm_delete IS NULL
  AND tm_create >= @since AND tm_create < @until
GROUP BY status, end_reason`

// statsCheckSQL counts, for every sum of the window's closed hours, the executions it covers today.
const statsCheckSQL = `SELECT r.hour AS hour, SUM(CASE WHEN a.id IS NULL THEN 0 ELSE 1 END) AS covered
FROM flow_stats_hours r LEFT JOIN activeflows a ON a.flow_id = r.flow_id AND a.flow_revision = r.flow_revision
  AND a.customer_id = r.customer_id AND a.tm_delete IS NULL AND {{summed}}
  AND a.tm_create >= r.hour_start AND a.tm_create < r.hour_end
WHERE r.flow_id = @flow AND r.flow_revision = @revision AND r.customer_id = @customer
  AND r.hour >= @first AND r.hour < @end
GROUP BY r.hour`

// statsDialect is what differs: the time between two moves in milliseconds, as a float (ms), rounding it
// (rounded), and whether the activeflow a is one a sum covers (summed: ended, in less than statsSummedUnder).
var statsDialect = map[Dialect]*strings.Replacer{
	Postgres: strings.NewReplacer(
		"{{ms}}", "date_part('epoch', COALESCE(LEAD(x.tm_execute) OVER w, e.tm_end) - x.tm_execute) * 1000",
		"{{rounded}}", roundedSQL(func(x string) string { return "floor(" + x + ")" }, "bigint"),
		"{{summed}}", fmt.Sprintf("(a.status = 'ended' AND a.tm_end IS NOT NULL AND a.tm_end < a.tm_create + interval '%d seconds')",
			int(statsSummedUnder.Seconds())),
	),
	// SQLite may lack floor(): the rounded values are never negative, where casting to an integer is the floor.
	SQLite: strings.NewReplacer(
		"{{ms}}", "(julianday(COALESCE(LEAD(x.tm_execute) OVER w, e.tm_end)) - julianday(x.tm_execute)) * 86400000.0",
		"{{rounded}}", roundedSQL(func(x string) string { return "CAST(" + x + " AS INTEGER)" }, "INTEGER"),
		"{{summed}}", fmt.Sprintf("(a.status = 'ended' AND a.tm_end IS NOT NULL AND julianday(a.tm_end) - julianday(a.tm_create) < %d / 86400.0)",
			int(statsSummedUnder.Seconds())),
	),
}

// roundedSQL rounds ms to the millisecond below a second, and to three significant digits from there (to
// 10 s steps from 10,000 s on); a time below zero (clocks of two instances) is zero.
func roundedSQL(floor func(string) string, integer string) string {
	var b strings.Builder
	b.WriteString("CAST(CASE WHEN ms IS NULL THEN NULL WHEN ms < 0.5 THEN 0 WHEN ms < 1000 THEN " + floor("ms + 0.5"))
	for _, step := range []int{10, 100, 1000} {
		fmt.Fprintf(&b, " WHEN ms < %d THEN %s * %d", step*1000, floor(fmt.Sprintf("ms / %d + 0.5", step)), step)
	}
	fmt.Fprintf(&b, " ELSE %s * 10000 END AS %s)", floor("ms / 10000 + 0.5"), integer)
	return b.String()
}

// statsRow is one tagged row of flowStatsSQL.
type statsRow struct {
	Kind string  `json:"k"`
	Hr   int     `json:"-"`
	A    *string `json:"a,omitempty"`
	B    *string `json:"b,omitempty"`
	C    *string `json:"c,omitempty"`
	T    string  `json:"t,omitempty"`
	N    int64   `json:"n"`
	M    int64   `json:"m,omitempty"`
}

// flowStatsHour is a row of flow_stats_hours: the sum of one hour (Hour, hours since 1970 in UTC).
type flowStatsHour struct {
	FlowID       uuid.UUID `gorm:"column:flow_id;primaryKey"`
	FlowRevision int       `gorm:"column:flow_revision;primaryKey"`
	Hour         int64     `gorm:"column:hour;primaryKey"`
	CustomerID   uuid.UUID `gorm:"column:customer_id"`
	HourStart    time.Time `gorm:"column:hour_start"`
	HourEnd      time.Time `gorm:"column:hour_end"`
	Executions   int       `gorm:"column:executions"`
	Data         string    `gorm:"column:data"`
	TMUpdate     time.Time `gorm:"column:tm_update"`

	sum statsSum
}

// statsSum is what a sum keeps (flow_stats_hours.data): the p rows as they are, and the h rows as, per action, a
// flat list of rounded time and count pairs, which is most of a sum and so kept compact.
type statsSum struct {
	Paths []statsRow         `json:"p"`
	Times map[string][]int64 `json:"h"`
}

func (flowStatsHour) TableName() string { return "flow_stats_hours" }

// FlowStats counts how the executions that q selects went through the flow. On PostgreSQL the statements run with
// room to sort in memory (work_mem) and without JIT compilation, which costs more than it saves on statements
// that run once; those that answer read one snapshot.
func (s *Store) FlowStats(ctx context.Context, q FlowStatsQuery) (*FlowStats, error) {
	now := s.timestamp()
	q.Since, q.Until = q.Since.UTC(), q.Until.UTC()
	sums, err := s.flowStatsSums(ctx, q, now)
	if err != nil {
		return nil, fmt.Errorf("store: flow stats: %w", err)
	}
	acc := &statsAcc{
		out:   &FlowStats{Ends: map[string]int{}, Actions: map[uuid.UUID]*ActionStats{}},
		edges: map[[2]uuid.UUID]int{},
		times: map[uuid.UUID]map[int64]int64{},
	}
	for _, h := range sums {
		if err := acc.addSum(h.sum); err != nil {
			return nil, err
		}
	}

	// The executions not summed: the window's but for those the sums cover.
	args := s.statsArgs(q)
	args["since"], args["until"] = q.Since, q.Until
	live := "SELECT a.id, a.status, a.end_reason, a.tm_end, 0 AS hr FROM activeflows a\n" +
		"  WHERE a.flow_id = @flow AND a.flow_revision = @revision AND a.customer_id = @customer\n" +
		"    AND a.tm_delete IS NULL AND a.tm_create >= @since AND a.tm_create < @until"
	if len(sums) > 0 {
		args["first"], args["end"] = sums[0].HourStart, sums[len(sums)-1].HourEnd
		live += "\n    AND NOT (a.tm_create >= @first AND a.tm_create < @end AND {{summed}})"
	}
	var (
		rows []statsRow
		ends []struct {
			Status    string
			EndReason *string
			N         int
		}
	)
	err = s.statsTx(ctx, true, func(tx *gorm.DB) error {
		if err := tx.Raw(statsExecutionsSQL, args).Scan(&ends).Error; err != nil {
			return err
		}
		return tx.Raw(s.statsSQL(live), args).Scan(&rows).Error
	})
	if err != nil {
		return nil, fmt.Errorf("store: flow stats: %w", classify(err))
	}
	for _, r := range ends {
		acc.out.Executions += r.N
		if r.Status == ActiveflowRunning {
			acc.out.Running += r.N
		} else if r.EndReason != nil {
			acc.out.Ends[*r.EndReason] += r.N
		}
	}
	if err := acc.add(rows); err != nil {
		return nil, err
	}
	return acc.finish(), nil
}

// statsArgs are the parameters every statistics statement takes.
func (s *Store) statsArgs(q FlowStatsQuery) map[string]any {
	return map[string]any{"customer": q.CustomerID, "flow": q.FlowID, "revision": q.Revision}
}

// statsSQL is flowStatsSQL in the store's dialect, over the executions that e selects.
func (s *Store) statsSQL(e string) string {
	return statsDialect[s.dialect].Replace(strings.Replace(flowStatsSQL, "{{e}}", e, 1))
}

// timestampParam is the named parameter as a timestamp where it is not the operand of a comparison.
func (s *Store) timestampParam(name string) string {
	if s.dialect == Postgres {
		return "CAST(@" + name + " AS timestamptz)"
	}
	return "@" + name
}

// statsTx runs fn in a transaction; on PostgreSQL with room to sort and no JIT, and, when snapshot is set, in
// one snapshot (REPEATABLE READ, read only).
func (s *Store) statsTx(ctx context.Context, snapshot bool, fn func(tx *gorm.DB) error) error {
	if s.dialect != Postgres {
		return s.conn(ctx).Transaction(fn)
	}
	var opts []*sql.TxOptions
	if snapshot {
		opts = append(opts, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	}
	return s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off").Error; err != nil {
			return err
		}
		return fn(tx)
	}, opts...)
}

// flowStatsSums answers the sums of the window's closed hours in hour order, each checked, computing and storing
// those missing or out of date.
func (s *Store) flowStatsSums(ctx context.Context, q FlowStatsQuery, now time.Time) ([]*flowStatsHour, error) {
	first := q.Since.Truncate(time.Hour)
	if first.Before(q.Since) {
		first = first.Add(time.Hour)
	}
	end := q.Until
	if closed := now.Add(-statsSummedUnder - statsSettle); closed.Before(end) {
		end = closed
	}
	end = end.Truncate(time.Hour)
	if !end.After(first) {
		return nil, nil
	}
	// The hours before the window's first execution need no sum: none can be created in a closed hour.
	args := s.statsArgs(q)
	args["since"], args["until"] = first, end
	var earliest []time.Time
	err := s.conn(ctx).Model(&Activeflow{}).Where("flow_id = @flow AND flow_revision = @revision AND customer_id = @customer"+
		" AND tm_delete IS NULL AND tm_create >= @since AND tm_create < @until", args).
		Order("tm_create").Limit(1).Pluck("tm_create", &earliest).Error
	if err != nil {
		return nil, classify(err)
	}
	if len(earliest) == 0 {
		return nil, nil
	}
	if e := earliest[0].UTC().Truncate(time.Hour); e.After(first) {
		first = e
	}
	firstHour, endHour := first.Unix()/3600, end.Unix()/3600
	args["first"], args["end"] = firstHour, endHour

	var stored []*flowStatsHour
	var checks []struct {
		Hour    int64
		Covered int
	}
	err = s.statsTx(ctx, true, func(tx *gorm.DB) error {
		err := tx.Where("flow_id = @flow AND flow_revision = @revision AND customer_id = @customer AND hour >= @first AND hour < @end", args).
			Order("hour").Find(&stored).Error
		if err != nil {
			return err
		}
		return tx.Raw(statsDialect[s.dialect].Replace(statsCheckSQL), args).Scan(&checks).Error
	})
	if err != nil {
		return nil, classify(err)
	}
	covered := make(map[int64]int, len(checks))
	for _, c := range checks {
		covered[c.Hour] = c.Covered
	}
	byHour := make(map[int64]*flowStatsHour, len(stored))
	for _, h := range stored {
		n, ok := covered[h.Hour]
		switch {
		case !ok || n != h.Executions: // an execution deleted, or an end written after the sum
		case json.Unmarshal([]byte(h.Data), &h.sum) != nil:
		default:
			byHour[h.Hour] = h
		}
	}
	var missing []int64
	for hr := firstHour; hr < endHour; hr++ {
		if byHour[hr] == nil {
			missing = append(missing, hr)
		}
	}
	for chunk := range slices.Chunk(missing, statsHoursPerStatement) {
		sums, err := s.sumHours(ctx, q, chunk, now)
		if err != nil {
			return nil, err
		}
		for _, h := range sums {
			byHour[h.Hour] = h
		}
	}
	out := make([]*flowStatsHour, 0, endHour-firstHour)
	for hr := firstHour; hr < endHour; hr++ {
		out = append(out, byHour[hr])
	}
	return out, nil
}

// sumHours computes the sums of the given hours in one statement and stores them.
func (s *Store) sumHours(ctx context.Context, q FlowStatsQuery, hours []int64, now time.Time) ([]*flowStatsHour, error) {
	args := s.statsArgs(q)
	sums := make([]*flowStatsHour, len(hours))
	table := make([]string, len(hours))
	for i, hr := range hours {
		start := time.Unix(hr*3600, 0).UTC()
		sums[i] = &flowStatsHour{FlowID: q.FlowID, FlowRevision: q.Revision, Hour: hr, CustomerID: q.CustomerID,
			HourStart: start, HourEnd: start.Add(time.Hour), TMUpdate: now,
			sum: statsSum{Paths: []statsRow{}, Times: map[string][]int64{}}}
		n := strconv.Itoa(i)
		args["hs"+n], args["he"+n] = start, start.Add(time.Hour)
		table[i] = "SELECT " + n + " AS hr, " + s.timestampParam("hs"+n) + " AS hs, " + s.timestampParam("he"+n) + " AS he"
	}
	hoursSQL := strings.Join(table, " UNION ALL ")
	e := "SELECT a.id, a.status, a.end_reason, a.tm_end, h.hr FROM activeflows a\n" +
		"  JOIN (" + hoursSQL + ") h ON a.tm_create >= h.hs AND a.tm_create < h.he\n" +
		"  WHERE a.flow_id = @flow AND a.flow_revision = @revision AND a.customer_id = @customer\n" +
		"    AND a.tm_delete IS NULL AND {{summed}}"
	var rows []statsRow
	err := s.statsTx(ctx, false, func(tx *gorm.DB) error {
		return tx.Raw(s.statsSQL(e), args).Scan(&rows).Error
	})
	if err != nil {
		return nil, classify(err)
	}
	for _, r := range rows {
		if r.Hr < 0 || r.Hr >= len(sums) {
			return nil, fmt.Errorf("sum of hour %d of %d", r.Hr, len(sums))
		}
		h := sums[r.Hr]
		switch {
		case r.Kind == "x":
			h.Executions = int(r.N)
		case r.Kind == "p":
			h.sum.Paths = append(h.sum.Paths, r)
		case r.Kind == "h" && r.A != nil:
			h.sum.Times[*r.A] = append(h.sum.Times[*r.A], r.M, r.N)
		}
	}
	for _, h := range sums {
		data, err := json.Marshal(h.sum)
		if err != nil {
			return nil, err
		}
		h.Data = string(data)
	}
	err = s.conn(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "flow_id"}, {Name: "flow_revision"}, {Name: "hour"}},
		DoUpdates: clause.AssignmentColumns([]string{"customer_id", "hour_start", "hour_end", "executions",
			"data", "tm_update"}),
	}).CreateInBatches(sums, 100).Error
	if err != nil {
		return nil, classify(err)
	}
	return sums, nil
}

// statsAcc adds up tagged rows, summed or computed, into the statistics.
type statsAcc struct {
	out   *FlowStats
	edges map[[2]uuid.UUID]int
	times map[uuid.UUID]map[int64]int64 // per action, how many times took each rounded time
}

func (acc *statsAcc) action(id *string) (uuid.UUID, *ActionStats, error) {
	if id == nil {
		return uuid.Nil, nil, fmt.Errorf("store: flow stats: a row without its action")
	}
	u, err := uuid.Parse(*id)
	if err != nil {
		return u, nil, fmt.Errorf("store: flow stats: action id %q: %w", *id, err)
	}
	a := acc.out.Actions[u]
	if a == nil {
		a = &ActionStats{EndReasons: map[string]int{}}
		acc.out.Actions[u] = a
	}
	return u, a, nil
}

// timesOf is the action's times: how many took each rounded value.
func (acc *statsAcc) timesOf(id uuid.UUID) map[int64]int64 {
	t := acc.times[id]
	if t == nil {
		t = map[int64]int64{}
		acc.times[id] = t
	}
	return t
}

// addSum adds a sum's rows.
func (acc *statsAcc) addSum(sum statsSum) error {
	if err := acc.add(sum.Paths); err != nil {
		return err
	}
	for a, pairs := range sum.Times {
		if len(pairs)%2 != 0 {
			return fmt.Errorf("store: flow stats: the times of action %s are not pairs", a)
		}
		id, _, err := acc.action(&a)
		if err != nil {
			return err
		}
		t := acc.timesOf(id)
		for i := 0; i < len(pairs); i += 2 {
			t[pairs[i]] += pairs[i+1]
		}
	}
	return nil
}

func (acc *statsAcc) add(rows []statsRow) error {
	for _, r := range rows {
		switch r.Kind {
		case "p":
			id, a, err := acc.action(r.A)
			if err != nil {
				return err
			}
			a.Type = r.T
			a.Visits += int(r.N)
			a.Entered += int(r.M)
			if r.C != nil {
				a.EndReasons[*r.C] += int(r.N)
			}
			if r.B != nil {
				from, err := uuid.Parse(*r.B)
				if err != nil {
					return fmt.Errorf("store: flow stats: action id %q: %w", *r.B, err)
				}
				acc.edges[[2]uuid.UUID{from, id}] += int(r.N)
			}
		case "h":
			id, _, err := acc.action(r.A)
			if err != nil {
				return err
			}
			acc.timesOf(id)[r.M] += r.N
		}
	}
	return nil
}

// finish answers the statistics: the edges most taken first, and every action's median, the mean of the middle
// one or two times as PostgreSQL's percentile_cont(0.5) has it.
func (acc *statsAcc) finish() *FlowStats {
	out := acc.out
	for id, t := range acc.times {
		if ms, ok := medianOf(t); ok {
			out.Actions[id].MedianMS = &ms
		}
	}
	for k, n := range acc.edges {
		out.Edges = append(out.Edges, EdgeStats{From: k[0], To: k[1], Count: n})
	}
	sort.Slice(out.Edges, func(i, j int) bool {
		a, b := out.Edges[i], out.Edges[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.From != b.From {
			return a.From.String() < b.From.String()
		}
		return a.To.String() < b.To.String()
	})
	return out
}

// medianOf is the median of times given as how many took each value.
func medianOf(times map[int64]int64) (int64, bool) {
	values := make([]int64, 0, len(times))
	var total int64
	for v, n := range times {
		if n > 0 {
			values = append(values, v)
			total += n
		}
	}
	if total == 0 {
		return 0, false
	}
	slices.Sort(values)
	at := func(pos int64) int64 { // the value at a position, from 0, of the times in order
		for _, v := range values {
			if pos < times[v] {
				return v
			}
			pos -= times[v]
		}
		return values[len(values)-1]
	}
	return int64(math.Round(float64(at((total-1)/2)+at(total/2)) / 2)), true
}
