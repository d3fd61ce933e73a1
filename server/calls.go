package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store"
)

const (
	reasonSIPNotConfigured      = "SIP_NOT_CONFIGURED"
	reasonUnsupportedDestinaton = "UNSUPPORTED_DESTINATION"
	reasonInvalidDestination    = "INVALID_DESTINATION"
	reasonFlowOrActions         = "FLOW_OR_ACTIONS"
)

// e164 is a phone number in E.164 form.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// ListCalls answers one page of the caller's calls.
func (s *Server) ListCalls(ctx context.Context, req gen.ListCallsRequestObject) (gen.ListCallsResponseObject, error) {
	page, err := toPage(req.Params.PageSize, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	list, err := s.store.ListCalls(ctx, principalFrom(ctx).CustomerID, page)
	if err != nil {
		return nil, err
	}
	out := make([]gen.Call, len(list))
	for i := range list {
		out[i] = toAPICall(&list[i])
	}
	return gen.ListCalls200JSONResponse{
		Result:        out,
		NextPageToken: nextPageToken(list, func(c *store.Call) time.Time { return c.TMCreate }),
	}, nil
}

// GetCall answers one of the caller's calls.
func (s *Server) GetCall(ctx context.Context, req gen.GetCallRequestObject) (gen.GetCallResponseObject, error) {
	c, err := s.store.GetCall(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetCall200JSONResponse{CallJSONResponse: gen.CallJSONResponse(toAPICall(c))}, nil
}

// CreateCall places a call to each destination through the SIP runner.
func (s *Server) CreateCall(ctx context.Context, req gen.CreateCallRequestObject) (gen.CreateCallResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	d, err := s.dialRequest(ctx, customerID, req.Body)
	if err != nil {
		return nil, err
	}
	runner := s.callRunner()
	if runner == nil {
		return nil, newError(http.StatusServiceUnavailable, statusUnavailable, reasonSIPNotConfigured,
			"this server places no calls; start it with FLOWBIN_SIP_ADDR set")
	}
	calls, err := runner.Dial(ctx, d)
	if err != nil {
		// All or none: calls placed before the refusal are hung up (their records stay, canceled), so that a
		// client told the request failed has no calls ringing that it does not know of.
		for i := range calls {
			if herr := runner.Hangup(ctx, customerID, calls[i].ID); herr != nil && !errors.Is(herr, sip.ErrCallNotHere) {
				s.log.Warn("hang up a call of a refused request", "call_id", calls[i].ID, "err", herr)
			}
		}
		return nil, err
	}
	out := gen.CallsCreated{Calls: make([]gen.Call, 0, len(calls)), Groupcalls: []map[string]any{}}
	for i := range calls {
		c, err := s.store.GetCall(ctx, customerID, calls[i].ID)
		if err != nil {
			return nil, err
		}
		out.Calls = append(out.Calls, toAPICall(c))
	}
	return gen.CreateCall200JSONResponse(out), nil
}

// dialRequest checks a request to place calls: its destinations, and its flow or actions (validated as
// POST /v1.0/activeflows validates them, every problem at once).
func (s *Server) dialRequest(ctx context.Context, customerID uuid.UUID, body *gen.CallCreate) (sip.DialRequest, error) {
	d := sip.DialRequest{CustomerID: customerID, Source: toSIPAddress(body.Source)}
	var details []gen.ErrorDetail
	problem := func(ptr, reason, format string, args ...any) {
		details = append(details, gen.ErrorDetail{Pointer: &ptr, Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	for i, a := range body.Destinations {
		ptr := fmt.Sprintf("/destinations/%d", i)
		switch a.Type {
		case "sip":
			if !strings.HasPrefix(a.Target, "sip:") || len(a.Target) <= len("sip:") {
				problem(ptr+"/target", reasonInvalidDestination, "a sip destination's target is a SIP URI such as sip:bob@192.0.2.10, not %q", a.Target)
			}
		case "tel":
			if !e164.MatchString(a.Target) {
				problem(ptr+"/target", reasonInvalidDestination, "a tel destination's target is an E.164 number such as +15551230002, not %q", a.Target)
			}
		default:
			problem(ptr+"/type", reasonUnsupportedDestinaton, "flowbin calls sip and tel destinations, not %q", a.Type)
		}
		d.Destinations = append(d.Destinations, toSIPAddress(a))
	}
	hasFlow, hasActions := body.FlowId != nil && *body.FlowId != uuid.Nil, body.Actions != nil
	if hasFlow == hasActions {
		problem("", reasonFlowOrActions, "a call runs either flow_id or actions: give one of the two")
	}
	if len(details) > 0 {
		e := badRequest(details[0].Reason, "%s", details[0].Message)
		if len(details) > 1 {
			e.message = fmt.Sprintf("the request has %d problems; the first: %s", len(details), details[0].Message)
		}
		e.details = details
		return d, e
	}
	// The flow, actions and variables are checked as an activeflow's start: the same rules, pointers and limits.
	start := map[string]any{}
	if hasFlow {
		start["flow_id"] = body.FlowId
	} else {
		start["actions"] = body.Actions
	}
	if body.Variables != nil {
		start["variables"] = body.Variables
	}
	raw, err := json.Marshal(start)
	if err != nil {
		return d, err
	}
	st, err := s.parseStart(ctx, customerID, raw, flow.StartActiveflow)
	if err != nil {
		return d, err
	}
	d.FlowID, d.Actions, d.Variables = st.FlowID, st.Actions, map[string]string{}
	for k, v := range st.Variables {
		// The voipbin. namespace is the runner's (voipbin.call.*): a client's are ignored, as VoIPbin ignores them.
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(k)), "voipbin.") {
			d.Variables[k] = v
		}
	}
	return d, nil
}

// HangupCall hangs up a call: at once when this instance holds it, else through the instance that does.
func (s *Server) HangupCall(ctx context.Context, req gen.HangupCallRequestObject) (gen.HangupCallResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	c, err := s.store.GetCall(ctx, customerID, req.Id)
	if err != nil {
		return nil, err
	}
	if !c.Ended() {
		hungUp := false
		if r := s.callRunner(); r != nil {
			switch err := r.Hangup(ctx, customerID, c.ID); {
			case err == nil:
				hungUp = true
			case !errors.Is(err, sip.ErrCallNotHere):
				return nil, err
			}
		}
		mark := s.store.RequestCallHangup
		if hungUp {
			// The runner writes the hangup once the far end has let go: until then the call says it is going.
			mark = s.store.MarkCallTerminating
		}
		if c, err = mark(ctx, customerID, c.ID); err != nil {
			return nil, err
		}
	}
	return gen.HangupCall200JSONResponse{CallJSONResponse: gen.CallJSONResponse(toAPICall(c))}, nil
}

func toSIPAddress(a gen.Address) sip.Address {
	return sip.Address{Type: a.Type, Target: a.Target, TargetName: deref(a.TargetName), Name: deref(a.Name)}
}

func toStoreAddress(a sip.Address) store.Address {
	return store.Address{Type: a.Type, Target: a.Target, TargetName: a.TargetName, Name: a.Name}
}

func toAPIAddress(a store.Address) gen.CallAddress {
	return gen.CallAddress{Type: a.Type, Target: a.Target, TargetName: a.TargetName, Name: a.Name, Detail: a.Detail}
}

// toStoreCall is the record of the runner's call.
func toStoreCall(c *sip.Call) *store.Call {
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC().Truncate(time.Microsecond)
		return &u
	}
	return &store.Call{
		ID: c.ID, CustomerID: c.CustomerID, FlowID: nonNil(c.FlowID), ActiveflowID: nonNil(c.ActiveflowID),
		Direction: c.Direction, Source: toStoreAddress(c.Source), Destination: toStoreAddress(c.Destination),
		Status: c.Status, HangupBy: c.HangupBy, HangupReason: c.HangupReason, RecordingIDs: store.IDList(c.RecordingIDs),
		TMRinging: at(c.TmRinging), TMProgressing: at(c.TmProgressing), TMHangup: at(c.TmHangup),
		RunnerID: nonNil(c.RunnerID), LeaseUntil: at(c.LeaseUntil),
	}
}

func toAPICall(c *store.Call) gen.Call {
	recordings := []uuid.UUID(c.RecordingIDs)
	if recordings == nil {
		recordings = []uuid.UUID{}
	}
	return gen.Call{
		Id: c.ID, CustomerId: c.CustomerID, OwnerType: "", OwnerId: uuid.Nil,
		FlowId: orZero(c.FlowID), ActiveflowId: orZero(c.ActiveflowID), Type: gen.CallTypeFlow,
		MasterCallId: uuid.Nil, ChainedCallIds: []uuid.UUID{}, RecordingId: orZero(c.RecordingID),
		RecordingIds: recordings, GroupcallId: uuid.Nil,
		Source: toAPIAddress(c.Source), Destination: toAPIAddress(c.Destination),
		Status: gen.CallStatus(c.Status), Direction: gen.CallDirection(c.Direction), MuteDirection: "",
		HangupBy: gen.CallHangupBy(c.HangupBy), HangupReason: gen.CallHangupReason(c.HangupReason),
		TmRinging: formatTimePtr(c.TMRinging), TmProgressing: formatTimePtr(c.TMProgressing),
		TmHangup: formatTimePtr(c.TMHangup), TmCreate: formatTime(c.TMCreate), TmUpdate: formatTimePtr(c.TMUpdate),
		TmDelete: formatTimePtr(c.TMDelete),
	}
}
