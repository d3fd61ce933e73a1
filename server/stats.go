package server

import (
	"context"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

// Flow statistics' window: seven days unless the caller says otherwise, at most a little over a year so that one
// request cannot make the database read every execution ever stored.
const (
	statsDefaultWindow = 7 * 24 * time.Hour
	statsMaxWindow     = 366 * 24 * time.Hour
)

// GetFlowStats answers how the executions of one revision of a flow, created in a window, went through it.
func (s *Server) GetFlowStats(ctx context.Context, req gen.GetFlowStatsRequestObject) (gen.GetFlowStatsResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	since, until, err := statsWindow(req.Params.Since, req.Params.Until, s.store.Now())
	if err != nil {
		return nil, err
	}
	var (
		revision int
		actions  []flow.Action
	)
	if req.Params.Revision != nil {
		r, err := s.store.GetFlowRevision(ctx, customerID, req.Id, *req.Params.Revision)
		if err != nil {
			return nil, err
		}
		revision, actions = r.Revision, r.Actions
	} else {
		f, err := s.store.GetFlow(ctx, customerID, req.Id)
		if err != nil {
			return nil, err
		}
		revision, actions = f.Revision, f.Actions
	}
	st, err := s.store.FlowStats(ctx, store.FlowStatsQuery{
		CustomerID: customerID, FlowID: req.Id, Revision: revision, Since: since, Until: until,
	})
	if err != nil {
		return nil, err
	}
	return gen.GetFlowStats200JSONResponse(toAPIFlowStats(req.Id, revision, since, until, actions, st)), nil
}

// statsWindow reads the window [since, until): until defaults to now, since to seven days before until.
func statsWindow(sinceParam, untilParam *string, now time.Time) (since, until time.Time, err error) {
	until = now.UTC()
	if untilParam != nil && *untilParam != "" {
		if until, err = parseTimeParam(*untilParam); err != nil {
			return since, until, badParameter("until", "%q is not a time like 2026-11-23 08:30:00.000000 or 2026-11-23T08:30:00Z", *untilParam)
		}
	}
	since = until.Add(-statsDefaultWindow)
	if sinceParam != nil && *sinceParam != "" {
		if since, err = parseTimeParam(*sinceParam); err != nil {
			return since, until, badParameter("since", "%q is not a time like 2026-11-16 08:30:00.000000 or 2026-11-16T08:30:00Z", *sinceParam)
		}
	}
	switch {
	case !until.After(since):
		return since, until, badParameter("until", "until (%s) must be after since (%s)", formatTime(until), formatTime(since))
	case until.Sub(since) > statsMaxWindow:
		return since, until, badParameter("since", "the window from %s to %s is longer than 366 days", formatTime(since), formatTime(until))
	}
	return since, until, nil
}

// parseTimeParam reads a time in the wire format or RFC 3339, to the microsecond (as timestamps are stored).
func parseTimeParam(s string) (time.Time, error) {
	t, err := parsePageToken(s)
	return t.UTC(), err
}

// toAPIFlowStats answers the statistics, actions in the order of the revision's actions (those no longer in it,
// such as a call action's nested ones, after them by id). A control action has no median: it takes no time.
func toAPIFlowStats(flowID uuid.UUID, revision int, since, until time.Time, actions []flow.Action, st *store.FlowStats) gen.FlowStats {
	out := gen.FlowStats{
		FlowId: flowID, Revision: revision, Since: formatTime(since), Until: formatTime(until),
		Executions: st.Executions, Running: st.Running,
		Ends:    endReasons(st.Ends),
		Actions: make([]gen.FlowStatsAction, 0, len(st.Actions)),
		Edges:   make([]gen.FlowStatsEdge, 0, len(st.Edges)),
	}
	order := make(map[uuid.UUID]int, len(actions))
	for i, a := range actions {
		order[a.ID] = i
	}
	ids := make([]uuid.UUID, 0, len(st.Actions))
	for id := range st.Actions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		oi, iok := order[ids[i]]
		oj, jok := order[ids[j]]
		if iok != jok {
			return iok
		}
		if iok {
			return oi < oj
		}
		return ids[i].String() < ids[j].String()
	})
	for _, id := range ids {
		a := st.Actions[id]
		ended := 0
		for _, n := range a.EndReasons {
			ended += n
		}
		median := a.MedianMS
		if flow.IsControl(flow.Type(a.Type)) {
			median = nil
		}
		var ms *int
		if median != nil {
			v := int(*median)
			ms = &v
		}
		out.Actions = append(out.Actions, gen.FlowStatsAction{
			ActionId: id, Type: gen.ActionType(a.Type), Entered: a.Entered, Visits: a.Visits,
			Ended: ended, EndReasons: endReasons(a.EndReasons), MedianMs: ms,
		})
	}
	for _, e := range st.Edges {
		out.Edges = append(out.Edges, gen.FlowStatsEdge{From: e.From, To: e.To, Count: e.Count})
	}
	return out
}

// endReasons keys counts by end_reason, "ended" for executions that ended without one.
func endReasons(by map[string]int) map[string]int {
	out := make(map[string]int, len(by))
	for reason, n := range by {
		if reason == "" {
			reason = store.ActiveflowEnded
		}
		out[reason] += n
	}
	return out
}
