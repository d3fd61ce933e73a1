package store

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
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
// median. It reads the window's executions (e) once, and their action rows in step order, with the previous action
// and the next move (LAG and LEAD over all of an execution's rows, so that a move into or out of another flow's
// actions is not mistaken for a move between two of this flow's) and whether the row is the execution's first
// visit of its action (s, the rows of this flow's own actions, narrow). It answers tagged rows:
//
//	f  a status, b end_reason, n count          the executions by status and end_reason
//	p  a action_id, b previous own action or NULL, c end_reason when the execution ended there or NULL,
//	   t action_type, n moves, m first visits   every move to an own action, grouped
//	m  a action_id, ms median milliseconds
//
// Entries, visits, edges and ends all come from the p rows, so that the rows are grouped once; the median needs
// its own pass.
const flowStatsSQL = `
WITH e AS MATERIALIZED (
  SELECT id, status, end_reason, tm_end FROM activeflows
  WHERE flow_id = @flow AND flow_revision = @revision AND customer_id = @customer
    AND tm_create >= @since AND tm_create < @until AND tm_delete IS NULL
), w AS (
  SELECT x.action_id, x.action_type, x.flow_id, x.flow_revision, x.step, x.activeflow_id,
    CASE WHEN LAG(x.flow_id) OVER w = @flow AND LAG(x.flow_revision) OVER w = @revision
      THEN LAG(x.action_id) OVER w END AS prev_action,
    CASE WHEN LEAD(x.step) OVER w IS NULL AND e.status = 'ended' THEN e.end_reason END AS ended_reason,
    {{ms}} AS ms
  FROM activeflow_actions x JOIN e ON e.id = x.activeflow_id
  WHERE x.customer_id = @customer
  WINDOW w AS (PARTITION BY x.activeflow_id ORDER BY x.step)
), s AS MATERIALIZED (
  SELECT action_id, action_type, prev_action, ended_reason, ms,
    CASE WHEN step = MIN(step) OVER (PARTITION BY activeflow_id, action_id) THEN 1 ELSE 0 END AS first_visit
  FROM w WHERE flow_id = @flow AND flow_revision = @revision
)
SELECT 'f' AS kind, status AS a, end_reason AS b, CAST(NULL AS text) AS c, '' AS t, COUNT(*) AS n, 0 AS m,
  CAST(NULL AS double precision) AS ms
FROM e GROUP BY status, end_reason
UNION ALL
SELECT 'p', CAST(action_id AS text), CAST(prev_action AS text), ended_reason, MIN(action_type), COUNT(*),
  SUM(first_visit), NULL
FROM s GROUP BY action_id, prev_action, ended_reason
UNION ALL
{{median}}`

var flowStatsDialect = map[Dialect]*strings.Replacer{
	Postgres: strings.NewReplacer(
		"{{ms}}", "EXTRACT(EPOCH FROM (COALESCE(LEAD(x.tm_execute) OVER w, e.tm_end) - x.tm_execute)) * 1000",
		"{{median}}", `SELECT 'm', CAST(action_id AS text), NULL, NULL, '', 0, 0,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)
FROM s WHERE ms IS NOT NULL GROUP BY action_id`,
	),
	// SQLite has no percentile: the median is the mean of the middle one or two samples by row number.
	SQLite: strings.NewReplacer(
		"{{ms}}", "(julianday(COALESCE(LEAD(x.tm_execute) OVER w, e.tm_end)) - julianday(x.tm_execute)) * 86400000.0",
		"{{median}}", `SELECT 'm', action_id, NULL, NULL, '', 0, 0, AVG(ms) FROM (
    SELECT action_id, ms, ROW_NUMBER() OVER (PARTITION BY action_id ORDER BY ms) AS rn,
      COUNT(*) OVER (PARTITION BY action_id) AS c
    FROM s WHERE ms IS NOT NULL)
  WHERE rn IN ((c + 1) / 2, (c + 2) / 2) GROUP BY action_id`,
	),
}

// FlowStats counts how the executions that q selects went through the flow, in one statement. On PostgreSQL it
// runs in a transaction of its own with room to sort in memory (work_mem) and without JIT compilation, which costs
// more than it saves on a statement that runs once.
func (s *Store) FlowStats(ctx context.Context, q FlowStatsQuery) (*FlowStats, error) {
	var rows []struct {
		Kind string
		A    string
		B, C *string
		T    string
		N, M int
		MS   *float64
	}
	query := flowStatsDialect[s.dialect].Replace(flowStatsSQL)
	args := map[string]any{
		"customer": q.CustomerID, "flow": q.FlowID, "revision": q.Revision,
		"since": q.Since.UTC(), "until": q.Until.UTC(),
	}
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if s.dialect == Postgres {
			if err := tx.Exec("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off").Error; err != nil {
				return err
			}
		}
		return tx.Raw(query, args).Scan(&rows).Error
	})
	if err != nil {
		return nil, fmt.Errorf("store: flow stats: %w", classify(err))
	}
	out := &FlowStats{Ends: map[string]int{}, Actions: map[uuid.UUID]*ActionStats{}}
	action := func(id string) (uuid.UUID, *ActionStats, error) {
		u, err := uuid.Parse(id)
		if err != nil {
			return u, nil, fmt.Errorf("store: flow stats: action id %q: %w", id, err)
		}
		a := out.Actions[u]
		if a == nil {
			a = &ActionStats{EndReasons: map[string]int{}}
			out.Actions[u] = a
		}
		return u, a, nil
	}
	edges := map[[2]uuid.UUID]int{}
	for _, r := range rows {
		switch r.Kind {
		case "f":
			out.Executions += r.N
			if r.A == ActiveflowRunning {
				out.Running += r.N
			} else if r.B != nil {
				out.Ends[*r.B] += r.N
			}
		case "p":
			id, a, err := action(r.A)
			if err != nil {
				return nil, err
			}
			a.Type = r.T
			a.Visits += r.N
			a.Entered += r.M
			if r.C != nil {
				a.EndReasons[*r.C] += r.N
			}
			if r.B != nil {
				from, err := uuid.Parse(*r.B)
				if err != nil {
					return nil, fmt.Errorf("store: flow stats: action id %q: %w", *r.B, err)
				}
				edges[[2]uuid.UUID{from, id}] += r.N
			}
		case "m":
			_, a, err := action(r.A)
			if err != nil {
				return nil, err
			}
			if r.MS != nil {
				ms := int64(math.Round(max(*r.MS, 0)))
				a.MedianMS = &ms
			}
		}
	}
	for k, n := range edges {
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
	return out, nil
}
