package store

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
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
	// MedianMS is the median time from moving to the action to the next move (or the execution's end); nil
	// without a sample.
	MedianMS *int64
}

// EdgeStats counts the moves from one of the flow's actions to another in consecutive steps.
type EdgeStats struct {
	From, To uuid.UUID
	Count    int
}

// flowStatsSQL is the one statement behind FlowStats, in two dialects that differ only in the time arithmetic and the
// median. It reads the window's executions (e) once, numbers each one's action rows in
// step order with the previous action and the time of the next move (s: LAG and LEAD over all of its rows, so
// that a move into or out of another flow's actions is not mistaken for a move between two of this flow's),
// keeps the rows of this flow's own actions (own), and answers tagged rows:
//
//	f  status, end_reason, count           the executions by status and end_reason
//	a  action_id, action_type, visits, entered
//	x  action_id, end_reason, count        ended executions whose last row is this action
//	e  from action_id, to action_id, count moves between two own actions in consecutive steps
//	m  action_id, median milliseconds
const flowStatsSQL = `
WITH e AS MATERIALIZED (
  SELECT id, status, end_reason, tm_end FROM activeflows
  WHERE flow_id = @flow AND flow_revision = @revision AND customer_id = @customer
    AND tm_create >= @since AND tm_create < @until AND tm_delete IS NULL
), s AS MATERIALIZED (
  SELECT x.activeflow_id, x.action_id, x.action_type, x.flow_id, x.flow_revision,
    LAG(x.action_id) OVER w AS prev_action,
    LAG(x.flow_id) OVER w AS prev_flow,
    LAG(x.flow_revision) OVER w AS prev_revision,
    LEAD(x.step) OVER w AS next_step,
    e.status, e.end_reason,
    {{ms}} AS ms
  FROM activeflow_actions x JOIN e ON e.id = x.activeflow_id
  WHERE x.customer_id = @customer
  WINDOW w AS (PARTITION BY x.activeflow_id ORDER BY x.step)
), own AS MATERIALIZED (
  SELECT * FROM s WHERE flow_id = @flow AND flow_revision = @revision
)
SELECT 'f' AS kind, status AS a, end_reason AS b, COUNT(*) AS n, 0 AS m, CAST(NULL AS double precision) AS ms FROM e GROUP BY status, end_reason
UNION ALL
SELECT 'a', CAST(action_id AS text), MIN(action_type), COUNT(*), COUNT(DISTINCT activeflow_id), NULL FROM own GROUP BY action_id
UNION ALL
SELECT 'x', CAST(action_id AS text), end_reason, COUNT(*), 0, NULL FROM own
  WHERE next_step IS NULL AND status = 'ended' GROUP BY action_id, end_reason
UNION ALL
SELECT 'e', CAST(prev_action AS text), CAST(action_id AS text), COUNT(*), 0, NULL FROM own
  WHERE prev_flow = @flow AND prev_revision = @revision GROUP BY prev_action, action_id
UNION ALL
{{median}}`

var flowStatsDialect = map[Dialect]*strings.Replacer{
	Postgres: strings.NewReplacer(
		"{{ms}}", "EXTRACT(EPOCH FROM (COALESCE(LEAD(x.tm_execute) OVER w, e.tm_end) - x.tm_execute)) * 1000",
		"{{median}}", `SELECT 'm', CAST(action_id AS text), '', 0, 0, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM own
  WHERE ms IS NOT NULL GROUP BY action_id`,
	),
	// SQLite has no percentile: the median is the mean of the middle one or two samples by row number.
	SQLite: strings.NewReplacer(
		"{{ms}}", "(julianday(COALESCE(LEAD(x.tm_execute) OVER w, e.tm_end)) - julianday(x.tm_execute)) * 86400000.0",
		"{{median}}", `SELECT 'm', action_id, '', 0, 0, AVG(ms) FROM (
    SELECT action_id, ms, ROW_NUMBER() OVER (PARTITION BY action_id ORDER BY ms) AS rn,
      COUNT(*) OVER (PARTITION BY action_id) AS c
    FROM own WHERE ms IS NOT NULL)
  WHERE rn IN ((c + 1) / 2, (c + 2) / 2) GROUP BY action_id`,
	),
}

// FlowStats counts how the executions that q selects went through the flow, in one statement.
func (s *Store) FlowStats(ctx context.Context, q FlowStatsQuery) (*FlowStats, error) {
	var rows []struct {
		Kind string
		A, B string
		N, M int
		MS   *float64
	}
	query := flowStatsDialect[s.dialect].Replace(flowStatsSQL)
	args := map[string]any{
		"customer": q.CustomerID, "flow": q.FlowID, "revision": q.Revision,
		"since": q.Since.UTC(), "until": q.Until.UTC(),
	}
	if err := s.conn(ctx).Raw(query, args).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: flow stats: %w", classify(err))
	}
	out := &FlowStats{Ends: map[string]int{}, Actions: map[uuid.UUID]*ActionStats{}}
	action := func(id string) (*ActionStats, error) {
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, fmt.Errorf("store: flow stats: action id %q: %w", id, err)
		}
		a := out.Actions[u]
		if a == nil {
			a = &ActionStats{EndReasons: map[string]int{}}
			out.Actions[u] = a
		}
		return a, nil
	}
	for _, r := range rows {
		switch r.Kind {
		case "f":
			out.Executions += r.N
			if r.A == ActiveflowRunning {
				out.Running += r.N
			} else {
				out.Ends[r.B] += r.N
			}
		case "a":
			a, err := action(r.A)
			if err != nil {
				return nil, err
			}
			a.Type, a.Visits, a.Entered = r.B, r.N, r.M
		case "x":
			a, err := action(r.A)
			if err != nil {
				return nil, err
			}
			a.EndReasons[r.B] += r.N
		case "e":
			from, err1 := uuid.Parse(r.A)
			to, err2 := uuid.Parse(r.B)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("store: flow stats: edge %q → %q", r.A, r.B)
			}
			out.Edges = append(out.Edges, EdgeStats{From: from, To: to, Count: r.N})
		case "m":
			a, err := action(r.A)
			if err != nil {
				return nil, err
			}
			if r.MS != nil {
				ms := int64(math.Round(max(*r.MS, 0)))
				a.MedianMS = &ms
			}
		}
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
	return out, nil
}
