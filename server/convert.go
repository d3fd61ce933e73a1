package server

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

// timeLayout is the wire format of timestamps: UTC, always six fractional digits.
const timeLayout = "2006-01-02 15:04:05.000000"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(*t)
}

// toPage reads the paging parameters. page_size is already known to be a non-negative integer (the spec says so);
// 0 means the default, as in VoIPbin. page_token must be a timestamp in the wire format or in RFC 3339 form
// (VoIPbin's current tokens).
func toPage(size *int, token *string) (store.Page, error) {
	var p store.Page
	if size != nil && *size > 0 {
		p.Size = min(*size, store.MaxPageSize)
	}
	if token != nil && *token != "" {
		t, err := parsePageToken(*token)
		if err != nil {
			return p, badParameter("page_token", "%q is not a timestamp like 2020-10-11 01:00:00.000001 or 2020-10-11T01:00:00.000001Z", *token)
		}
		p.Before = t
	}
	return p, nil
}

// parsePageToken reads a page token. An RFC 3339 time finer than a microsecond is rounded up to the next one: the
// page holds the items created strictly before the token, and items are stored to the microsecond.
func parsePageToken(token string) (time.Time, error) {
	if t, err := time.ParseInLocation(timeLayout, token, time.UTC); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, token)
	if err != nil {
		return time.Time{}, err
	}
	t = t.UTC()
	if r := t.Truncate(time.Microsecond); !r.Equal(t) {
		t = r.Add(time.Microsecond)
	}
	return t, nil
}

// nextPageToken is the last item's tm_create, or "" for an empty page.
func nextPageToken[T any](items []T, created func(*T) time.Time) string {
	if len(items) == 0 {
		return ""
	}
	return formatTime(created(&items[len(items)-1]))
}

// convertAll converts every item of a list with a converter that reads it in place. The answer is never nil, so
// that an empty list is [] on the wire.
func convertAll[T, U any](in []T, convert func(*T) U) []U {
	out := make([]U, len(in))
	for i := range in {
		out[i] = convert(&in[i])
	}
	return out
}

// orNil is an optional id as VoIPbin sends it: the nil UUID when unset.
func orNil(id *uuid.UUID) uuid.UUID {
	if id == nil {
		return uuid.Nil
	}
	return *id
}

// reference is what an activeflow belongs to, as VoIPbin says it: the engine writes it into the execution's
// voipbin.activeflow variables when it starts (a call's activeflow: "call" and the call's id), which neither a
// client nor a runner can set. An activeflow started through the API, and those its end starts, is "api" with no
// id, as in VoIPbin.
func reference(x *flow.Execution) (gen.ActiveflowReferenceType, uuid.UUID) {
	refType := gen.ActiveflowReferenceType(x.Variables[flow.VarActiveflowReferenceType])
	if refType == "" {
		refType = "api"
	}
	id, err := uuid.Parse(x.Variables[flow.VarActiveflowReferenceID])
	if err != nil {
		id = uuid.Nil
	}
	return refType, id
}

func toAPIFlow(f *store.Flow) gen.Flow {
	directHash := deref(f.DirectHash)
	return gen.Flow{
		Id:               f.ID,
		CustomerId:       f.CustomerID,
		Type:             gen.FlowTypeFlow,
		Name:             f.Name,
		Detail:           f.Detail,
		Actions:          convertAll(f.Actions, toAPIAction),
		OnCompleteFlowId: orNil(f.OnCompleteFlowID),
		Revision:         f.Revision,
		TmCreate:         formatTime(f.TMCreate),
		TmUpdate:         formatTimePtr(f.TMUpdate),
		TmDelete:         formatTimePtr(f.TMDelete),
		DirectHash:       &directHash,
	}
}

// toAPIAction is an action of a flow as VoIPbin serves it: next_id is the nil UUID when the next action in the
// array follows, and tm_execute is null (a flow's actions have not run).
func toAPIAction(a *flow.Action) gen.FlowAction {
	out := gen.FlowAction{Id: a.ID.String(), NextId: a.NextID.String(), Type: gen.ActionType(a.Type)}
	if a.Name != "" {
		out.Name = &a.Name
	}
	if len(a.Option) > 0 {
		opt := json.RawMessage(a.Option)
		out.Option = &opt
	}
	return out
}

func toAPIProblem(p *flow.Problem) gen.ErrorDetail {
	ptr := p.Pointer
	return gen.ErrorDetail{Pointer: &ptr, Reason: p.Reason, Message: p.Message}
}

func toAPIProblems(ps []flow.Problem) []gen.ErrorDetail { return convertAll(ps, toAPIProblem) }

func toAPIAccesskey(k *store.AccessKey) gen.Accesskey {
	return gen.Accesskey{
		Id:          k.ID,
		CustomerId:  k.CustomerID,
		Name:        k.Name,
		Detail:      k.Detail,
		TokenPrefix: k.TokenPrefix,
		TmExpire:    formatTime(k.TMExpire),
		TmCreate:    formatTime(k.TMCreate),
		TmUpdate:    formatTimePtr(k.TMUpdate),
		TmDelete:    formatTimePtr(k.TMDelete),
	}
}

func toAPIRevision(r *store.FlowRevision) gen.FlowRevision {
	return gen.FlowRevision{
		FlowId:           r.FlowID,
		Revision:         r.Revision,
		Name:             r.Name,
		Detail:           r.Detail,
		Actions:          convertAll(r.Actions, toAPIAction),
		OnCompleteFlowId: orNil(r.OnCompleteFlowID),
		Author:           gen.Author{Type: gen.AuthorType(r.AuthorType), Id: r.AuthorID, Name: r.AuthorName},
		TmCreate:         formatTime(r.TMCreate),
	}
}

func toAPIExecuted(r *flow.Executed) gen.ExecutedAction {
	a := toAPIAction(&r.Action)
	out := gen.ExecutedAction{Id: a.Id, Name: a.Name, NextId: a.NextId, Type: a.Type, Option: a.Option, Step: r.Step,
		TmExecute: formatTime(r.TMExecute)}
	if r.Source != "" {
		out.Source = &r.Source
	}
	if r.FlowID != uuid.Nil {
		id, rev := r.FlowID, r.Revision
		out.FlowId, out.FlowRevision = &id, &rev
	}
	if d := r.Decision; d != nil {
		out.Decision = &gen.Decision{Result: gen.DecisionResult(d.Result), Reason: d.Reason}
		if d.TargetID != uuid.Nil {
			id := d.TargetID
			out.Decision.TargetId = &id
		}
	}
	return out
}

func toAPIExecutedList(list []flow.Executed) []gen.ExecutedAction {
	return convertAll(list, toAPIExecuted)
}

// toAPIActiveflow is an activeflow with every field VoIPbin serves, the nil UUID for those unset. flowbin moves
// to a jump's target at once, so it never has VoIPbin's forward_action_id.
func toAPIActiveflow(a *store.Activeflow) gen.Activeflow {
	x := &a.State.Execution
	out := gen.Activeflow{
		Id:              a.ID,
		CustomerId:      a.CustomerID,
		FlowId:          orNil(a.FlowID),
		FlowRevision:    a.FlowRevision,
		Status:          gen.ActiveflowStatus(a.Status),
		EndReason:       a.EndReason,
		ExecutedActions: toAPIExecutedList(x.Executed),
		Variables:       x.Variables,
		TmCreate:        formatTime(a.TMCreate),
		TmUpdate:        formatTimePtr(a.TMUpdate),
		TmEnd:           formatTimePtr(a.TMEnd),
		TmDelete:        formatTimePtr(a.TMDelete),

		ReferenceActiveflowId:  orNil(a.ReferenceActiveflowID),
		ForwardActionId:        uuid.Nil,
		OnCompleteFlowId:       orNil(a.OnCompleteFlowID),
		OnCompleteActiveflowId: a.OnCompleteActiveflowID,
	}
	out.ReferenceType, out.ReferenceId = reference(x)
	if a.WebhookURI != "" {
		out.WebhookUri, out.WebhookMethod = &a.WebhookURI, &a.WebhookMethod
	}
	if a.OnCompleteError != "" {
		out.OnCompleteError = &a.OnCompleteError
	}
	if cur := currentAction(x); cur != nil {
		c := toAPIExecuted(cur)
		out.CurrentAction = &c
	}
	return out
}

// currentAction is the action an activeflow is at: the runner's while it runs; once ended, the one it ended at
// (the action current when it was stopped, the stop or hangup that ended it, the last before it ran past its
// end), as VoIPbin keeps its current_action. nil only when no action ran.
func currentAction(x *flow.Execution) *flow.Executed {
	switch {
	case x.Current != nil:
		return x.Current
	case x.Ended && len(x.Executed) > 0:
		return &x.Executed[len(x.Executed)-1]
	}
	return nil
}

func toAPIGraph(g flow.Graph) gen.FlowGraph {
	out := gen.FlowGraph{Nodes: make([]gen.FlowGraphNode, len(g.Nodes)), Edges: make([]gen.FlowGraphEdge, len(g.Edges))}
	ids := make([]uuid.UUID, len(g.Nodes))
	for i, n := range g.Nodes {
		ids[i] = uuid.MustParse(n.ID)
		out.Nodes[i] = gen.FlowGraphNode{Id: ids[i], Index: n.Index, Type: gen.ActionType(n.Type), Label: n.Label, Reachable: n.Reachable}
		if n.Name != "" {
			name := n.Name
			out.Nodes[i].Name = &name
		}
	}
	for i, e := range g.Edges {
		out.Edges[i] = gen.FlowGraphEdge{From: ids[e.From], To: ids[e.To], Kind: gen.FlowGraphEdgeKind(e.Kind)}
		if e.Label != "" {
			label := e.Label
			out.Edges[i].Label = &label
		}
	}
	return out
}
