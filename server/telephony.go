package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/activeflow"
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store"
)

// Call and recording events, as VoIPbin names them.
const (
	eventCallCreated       = "call_created"
	eventCallRinging       = "call_ringing"
	eventCallProgressing   = "call_progressing"
	eventCallHangup        = "call_hangup"
	eventRecordingStarted  = "recording_started"
	eventRecordingFinished = "recording_finished"
	// referenceCall is the reference_type of a call's activeflow.
	referenceCall = "call"
)

// CallRunner places and hangs up calls: the SIP runner (package sip).
type CallRunner interface {
	Dial(ctx context.Context, d sip.DialRequest) ([]sip.Call, error)
	// Hangup hangs up a call this instance holds; sip.ErrCallNotHere when it holds no such call.
	Hangup(ctx context.Context, customerID, callID uuid.UUID) error
}

type runnerBox struct{ r CallRunner }

// SetCallRunner gives the server the SIP runner that places and hangs up its calls. Until it is called (or
// without SIP), POST /v1.0/calls answers 503 SIP_NOT_CONFIGURED, and hangups are left to the instance holding
// the call.
func (s *Server) SetCallRunner(r CallRunner) { s.runner.Store(&runnerBox{r}) }

func (s *Server) callRunner() CallRunner {
	if b := s.runner.Load(); b != nil {
		return b.r
	}
	return nil
}

// Telephony is what the SIP runner needs of the rest of flowbin: where calls go (sip.Directory), the records of
// calls and recordings with their events (sip.Ledger), and the activeflows of calls (sip.Flows). It is also the
// change listener that hears hangups requested on other instances (WatchFlowChanges).
type Telephony struct {
	s *Server
}

var (
	_ sip.Directory            = (*Telephony)(nil)
	_ sip.Ledger               = (*Telephony)(nil)
	_ sip.Flows                = (*Telephony)(nil)
	_ sip.Leases               = (*Telephony)(nil)
	_ store.CallChangeListener = (*Telephony)(nil)
)

// Telephony answers the server's telephony side, for the SIP runner.
func (s *Server) Telephony() *Telephony { return &Telephony{s: s} }

// Route resolves an INVITE's request-URI user: "direct.<hex>" is a flow's direct hash; anything else a number,
// with or without its "+".
func (t *Telephony) Route(ctx context.Context, user string) (sip.Route, error) {
	st := t.s.store
	if strings.HasPrefix(user, store.DirectHashPrefix) {
		f, err := st.FlowByDirectHash(ctx, user)
		if errors.Is(err, store.ErrNotFound) {
			return sip.Route{}, sip.ErrUnknownNumber
		}
		if err != nil {
			return sip.Route{}, err
		}
		return sip.Route{CustomerID: f.CustomerID, FlowID: f.ID}, nil
	}
	number := user
	if !strings.HasPrefix(number, "+") {
		number = "+" + number
	}
	n, err := st.NumberByValue(ctx, number)
	if errors.Is(err, store.ErrNotFound) {
		return sip.Route{}, sip.ErrUnknownNumber
	}
	if err != nil {
		return sip.Route{}, err
	}
	if n.CallFlowID == nil {
		return sip.Route{}, sip.ErrNoFlow
	}
	live, err := st.LiveFlowIDs(ctx, n.CustomerID, []uuid.UUID{*n.CallFlowID})
	if err != nil {
		return sip.Route{}, err
	}
	if !live[*n.CallFlowID] {
		return sip.Route{}, sip.ErrNoFlow
	}
	return sip.Route{CustomerID: n.CustomerID, FlowID: *n.CallFlowID, NumberID: n.ID}, nil
}

// CreateCall stores a new call with its call_created event (and the event of the status it starts in), in one
// transaction. c.ID is set when it was nil.
func (t *Telephony) CreateCall(ctx context.Context, c *sip.Call) error {
	row := toStoreCall(c)
	err := t.s.store.InTx(ctx, func(ctx context.Context) error {
		if err := t.s.store.CreateCall(ctx, row); err != nil {
			return err
		}
		events := []string{eventCallCreated}
		if e := statusEvent(row.Status); e != "" {
			events = append(events, e)
		}
		return t.s.callEvents(ctx, row, events...)
	})
	if err != nil {
		return fmt.Errorf("ledger: create call: %w", err)
	}
	c.ID = row.ID
	return nil
}

// UpdateCall writes a call's new state with the event of its new status, in one transaction. A call that has
// hung up stays so. When it reaches hangup, what it leaves behind is closed in the same transaction: its
// recordings still open end (recording_finished), and its activeflow, if still running, ends "hangup".
func (t *Telephony) UpdateCall(ctx context.Context, c *sip.Call) error {
	st := t.s.store
	err := st.InTx(ctx, func(ctx context.Context) error {
		cur, err := st.GetCall(ctx, c.CustomerID, c.ID)
		if err != nil {
			return err
		}
		if cur.Ended() {
			return nil
		}
		row := toStoreCall(c)
		row.TMCreate = cur.TMCreate
		if row.ActiveflowID == nil {
			row.ActiveflowID = cur.ActiveflowID
		}
		if row.FlowID == nil {
			row.FlowID = cur.FlowID
		}
		row.RecordingIDs, row.RecordingID = cur.RecordingIDs, cur.RecordingID
		if row.Ended() {
			if err := t.finishOpenRecordings(ctx, row); err != nil {
				return err
			}
			row.RecordingID = nil
		}
		if err := st.SaveCall(ctx, row); err != nil {
			return err
		}
		if row.Status != cur.Status {
			if e := statusEvent(row.Status); e != "" {
				if err := t.s.callEvents(ctx, row, e); err != nil {
					return err
				}
			}
		}
		if row.Ended() && row.ActiveflowID != nil {
			if err := t.hangup(ctx, row.CustomerID, *row.ActiveflowID); err != nil {
				return err
			}
		}
		c.RecordingIDs = row.RecordingIDs
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger: update call: %w", err)
	}
	return nil
}

// finishOpenRecordings ends the call's recordings still open, with their recording_finished events.
func (t *Telephony) finishOpenRecordings(ctx context.Context, c *store.Call) error {
	open, err := t.s.store.OpenRecordings(ctx, c.CustomerID, c.ID)
	if err != nil {
		return err
	}
	for i := range open {
		r := &open[i]
		now := t.s.store.Now()
		r.Status, r.TMEnd = store.RecordingEnded, &now
		if err := t.s.store.SaveRecording(ctx, r); err != nil {
			return err
		}
		if err := t.s.recordingEvent(ctx, r, eventRecordingFinished); err != nil {
			return err
		}
	}
	return nil
}

// CreateRecording stores a recording that has started, adds it to its call, and writes recording_started, in
// one transaction. r.ID is set when it was nil.
func (t *Telephony) CreateRecording(ctx context.Context, r *sip.Recording) error {
	st := t.s.store
	row := &store.Recording{ID: r.ID, CustomerID: r.CustomerID, CallID: r.CallID, ActiveflowID: nonNil(r.ActiveflowID),
		Status: store.RecordingRecording, Format: r.Format, Path: t.s.dataPath(r.Path), TMStart: r.TmStart.UTC()}
	if row.Format == "" {
		row.Format = "wav"
	}
	err := st.InTx(ctx, func(ctx context.Context) error {
		call, err := st.GetCall(ctx, r.CustomerID, r.CallID)
		if err != nil {
			return err
		}
		if err := st.CreateRecording(ctx, row); err != nil {
			return err
		}
		call.RecordingIDs = append(call.RecordingIDs, row.ID)
		call.RecordingID = &row.ID
		if err := st.SaveCall(ctx, call); err != nil {
			return err
		}
		return t.s.recordingEvent(ctx, row, eventRecordingStarted)
	})
	if err != nil {
		return fmt.Errorf("ledger: create recording: %w", err)
	}
	r.ID, r.Status, r.TmStart = row.ID, row.Status, row.TMStart
	return nil
}

// FinishRecording records that a recording's file is complete, with recording_finished, in one transaction. A
// recording that has ended already (its call hung up first) takes the file's path and end, without a second
// event.
func (t *Telephony) FinishRecording(ctx context.Context, r *sip.Recording) error {
	st := t.s.store
	err := st.InTx(ctx, func(ctx context.Context) error {
		row, err := st.GetRecording(ctx, r.CustomerID, r.ID)
		if err != nil {
			return err
		}
		wasOpen := row.Status != store.RecordingEnded
		end := r.TmEnd.UTC()
		if r.TmEnd.IsZero() {
			end = st.Now()
		}
		row.Status, row.TMEnd = store.RecordingEnded, &end
		if r.Path != "" {
			row.Path = t.s.dataPath(r.Path)
		}
		if err := st.SaveRecording(ctx, row); err != nil {
			return err
		}
		call, err := st.GetCall(ctx, r.CustomerID, row.CallID)
		if err != nil {
			return err
		}
		if call.RecordingID != nil && *call.RecordingID == row.ID {
			call.RecordingID = nil
			if err := st.SaveCall(ctx, call); err != nil {
				return err
			}
		}
		if !wasOpen {
			return nil
		}
		return t.s.recordingEvent(ctx, row, eventRecordingFinished)
	})
	if err != nil {
		return fmt.Errorf("ledger: finish recording: %w", err)
	}
	r.Status = store.RecordingEnded
	return nil
}

// Start starts the activeflow of a call: the flow's current revision, or inline actions, with reference_type
// "call" and the call as reference_id. The runner's own variables (voipbin.call.source.target…) are known before
// the first action: its options may refer to them. It answers the first runner action, or the end.
func (t *Telephony) Start(ctx context.Context, r sip.StartRequest) (sip.Step, error) {
	refType := r.ReferenceType
	if refType == "" {
		refType = referenceCall
	}
	a, err := t.s.activeflows.Start(ctx, activeflow.StartRequest{CustomerID: r.CustomerID, FlowID: r.FlowID,
		Actions: r.Actions, Variables: r.Variables, RunnerVariables: r.Variables, ReferenceType: refType,
		ReferenceID: r.ReferenceID})
	if err != nil {
		return sip.Step{}, fmt.Errorf("flows: start: %w", err)
	}
	return stepOf(a), nil
}

// Next reports the runner's step and answers the next runner action, or the end. A report of a step that is not
// the current one is sip.ErrStale (the activeflow moved on: another runner, or an earlier try); a report to an
// activeflow that has ended answers its end.
func (t *Telephony) Next(ctx context.Context, customerID, activeflowID uuid.UUID, step int, report sip.Report) (sip.Step, error) {
	s := t.s
	a, err := s.store.GetActiveflow(ctx, customerID, activeflowID)
	if err != nil {
		return sip.Step{}, fmt.Errorf("flows: next: %w", err)
	}
	if a.State.Ended {
		return stepOf(a), nil
	}
	cur := a.State.Current
	if cur == nil || (step != 0 && cur.Step != step) {
		return sip.Step{}, fmt.Errorf("flows: next: step %d: %w: %w", step, sip.ErrStale, flow.ErrStaleAction)
	}
	next, err := s.activeflows.Next(ctx, customerID, activeflowID,
		flow.RunnerReport{ActionID: cur.ID, Step: step, Variables: report.Variables})
	var stale *activeflow.StaleError
	var ended *activeflow.EndedError
	switch {
	case errors.As(err, &ended):
		// It ended meanwhile (the call hung up, a stop): answer its end.
		a, err := s.store.GetActiveflow(ctx, customerID, activeflowID)
		if err != nil {
			return sip.Step{}, fmt.Errorf("flows: next: %w", err)
		}
		return stepOf(a), nil
	case errors.As(err, &stale):
		return sip.Step{}, fmt.Errorf("flows: next: step %d: %w: %w", step, sip.ErrStale, err)
	case err != nil:
		return sip.Step{}, fmt.Errorf("flows: next: %w", err)
	}
	return stepOf(next), nil
}

// Stop ends a call's activeflow, "hangup", when the call ends before it does. An activeflow that has ended stays
// as it is.
func (t *Telephony) Stop(ctx context.Context, customerID, activeflowID uuid.UUID) error {
	if err := t.hangup(ctx, customerID, activeflowID); err != nil {
		return fmt.Errorf("flows: stop: %w", err)
	}
	return nil
}

// hangup ends a call's activeflow with reason hangup, in the transaction of ctx if any; one that has ended stays
// as it is. A runner that advanced it meanwhile is read again (a few times).
func (t *Telephony) hangup(ctx context.Context, customerID, id uuid.UUID) error {
	var err error
	for range 3 {
		_, err = t.s.activeflows.StopFor(ctx, customerID, id, flow.EndHangup)
		if _, ok := errors.AsType[*activeflow.StaleError](err); !ok {
			return err
		}
	}
	return fmt.Errorf("end activeflow %s: %w", id, err)
}

// RenewLeases extends the lease of every call of the runner that has not hung up, in one write.
func (t *Telephony) RenewLeases(ctx context.Context, runnerID uuid.UUID, until time.Time) error {
	if _, err := t.s.store.RenewCallLeases(ctx, runnerID, until); err != nil {
		return fmt.Errorf("ledger: renew leases: %w", err)
	}
	return nil
}

// reapBatch bounds the calls one ReapCalls ends; the next round takes the rest.
const reapBatch = 100

// ReapCalls ends the calls whose runner was lost (their lease expired): each, in one transaction, is claimed
// (hangup, hangup_by local, hangup_reason failed) only if it still has not hung up and its lease is still
// expired, so that of instances reaping at once exactly one ends it; then its recordings still open end
// (recording_finished), call_hangup is written, and its activeflow, if still running, ends "hangup". It answers
// how many calls this call ended.
func (t *Telephony) ReapCalls(ctx context.Context) (int, error) {
	st := t.s.store
	expired, err := st.ExpiredCalls(ctx, reapBatch)
	if err != nil {
		return 0, fmt.Errorf("ledger: reap calls: %w", err)
	}
	n := 0
	for i := range expired {
		claimed := false
		err := st.InTx(ctx, func(ctx context.Context) error {
			row, ok, err := st.ClaimExpiredCall(ctx, expired[i].ID, sip.HangupReasonRunnerLost)
			if err != nil || !ok {
				return err
			}
			claimed = true
			if err := t.finishOpenRecordings(ctx, row); err != nil {
				return err
			}
			if row.RecordingID != nil {
				row.RecordingID = nil
				if err := st.SaveCall(ctx, row); err != nil {
					return err
				}
			}
			if err := t.s.callEvents(ctx, row, eventCallHangup); err != nil {
				return err
			}
			if row.ActiveflowID != nil {
				return t.hangup(ctx, row.CustomerID, *row.ActiveflowID)
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("ledger: reap call %s: %w", expired[i].ID, err)
		}
		if claimed {
			n++
			t.s.log.Warn("ended a call whose runner was lost", "call_id", expired[i].ID,
				"customer_id", expired[i].CustomerID, "runner_id", orZero(expired[i].RunnerID))
		}
	}
	return n, nil
}

// FlowChanged is no concern of telephony.
func (t *Telephony) FlowChanged(uuid.UUID) {}

// ChangesReset is no concern of telephony: a missed hangup request leaves the call to end by itself.
func (t *Telephony) ChangesReset(bool) {}

// CallHangupRequested hangs up a call that another instance was asked to hang up, if this instance holds it.
func (t *Telephony) CallHangupRequested(id uuid.UUID) {
	r := t.s.callRunner()
	if r == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), t.s.cfg.RequestTimeout)
		defer cancel()
		// The listener does not know the call's customer: read it first.
		c, err := t.s.store.CallByID(ctx, id)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				t.s.log.Warn("hangup request: read call", "call_id", id, "err", err)
			}
			return
		}
		if err := r.Hangup(ctx, c.CustomerID, id); err != nil && !errors.Is(err, sip.ErrCallNotHere) {
			t.s.log.LogAttrs(ctx, slog.LevelWarn, "hangup request", slog.String("call_id", id.String()), slog.Any("err", err))
		}
	}()
}

// stepOf is the runner's view of where an activeflow is.
func stepOf(a *store.Activeflow) sip.Step {
	x := &a.State.Execution
	if x.Ended || x.Current == nil {
		return sip.Step{ActiveflowID: a.ID, Ended: true, EndReason: x.EndReason}
	}
	action := x.Current.Action
	return sip.Step{ActiveflowID: a.ID, Step: x.Current.Step, Action: &action}
}

// statusEvent is the event of a call reaching status; "" for the statuses VoIPbin sends none for.
func statusEvent(status string) string {
	switch status {
	case store.CallRinging:
		return eventCallRinging
	case store.CallProgressing:
		return eventCallProgressing
	case store.CallHangup:
		return eventCallHangup
	}
	return ""
}

// callEvents writes a call's events to its customer's webhook, in the transaction of ctx.
func (s *Server) callEvents(ctx context.Context, c *store.Call, events ...string) error {
	return s.activeflows.Notify(ctx, c.CustomerID, orZero(c.ActiveflowID), toAPICall(c), events...)
}

// recordingEvent writes a recording's event to its customer's webhook, in the transaction of ctx.
func (s *Server) recordingEvent(ctx context.Context, r *store.Recording, event string) error {
	return s.activeflows.Notify(ctx, r.CustomerID, orZero(r.ActiveflowID), toAPIRecording(r), event)
}
