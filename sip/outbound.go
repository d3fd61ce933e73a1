package sip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// ErrBadDestination is a destination the runner cannot dial (an address type it does not know, a tel number
// without a trunk, a target that is not a SIP URI).
var ErrBadDestination = errors.New("sip: destination cannot be dialled")

// destinationURI turns an address into the URI to INVITE: a "sip" target as it is ("sip:" added when missing),
// a "tel" number at the trunk.
func (r *Runner) destinationURI(a Address) (sip.Uri, error) {
	var raw string
	switch a.Type {
	case "sip", "":
		raw = a.Target
		if !strings.HasPrefix(strings.ToLower(raw), "sip:") {
			raw = "sip:" + raw
		}
	case "tel":
		if r.cfg.Trunk == "" {
			return sip.Uri{}, fmt.Errorf("%w: tel %q needs a trunk (FLOWBIN_SIP_TRUNK)", ErrBadDestination, a.Target)
		}
		if addressType(a.Target) != "tel" {
			return sip.Uri{}, fmt.Errorf("%w: %q is not an E.164 number", ErrBadDestination, a.Target)
		}
		raw = "sip:" + a.Target + "@" + r.cfg.Trunk
	default:
		return sip.Uri{}, fmt.Errorf("%w: address type %q", ErrBadDestination, a.Type)
	}
	var u sip.Uri
	if err := sip.ParseUri(raw, &u); err != nil || u.Host == "" {
		return sip.Uri{}, fmt.Errorf("%w: %q is not a SIP URI", ErrBadDestination, a.Target)
	}
	return u, nil
}

// invite places one outbound leg and waits until it is answered (or refused, or ctx ends).
func (r *Runner) invite(ctx context.Context, source Address, to sip.Uri) (*diago.DialogClientSession, *diago.DialogMedia, error) {
	var headers []sip.Header
	if source.Target != "" {
		user := source.Target
		if u, err := r.destinationURI(source); err == nil && source.Type != "tel" {
			user = u.User
		}
		from := &sip.FromHeader{DisplayName: source.Name, Address: sip.Uri{Scheme: "sip", User: user, Host: r.addr.Addr().String(), Port: int(r.addr.Port())}, Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(16))
		headers = append(headers, from)
	}
	d, err := r.dg.NewDialog(to, diago.NewDialogOptions{})
	if err != nil {
		return nil, nil, err
	}
	// diago waits for a provisional answer before it can cancel (timer B, 32 s, when none comes): the runner
	// stops waiting at ctx's end and lets the leg finish in the background, hung up should it answer late.
	type answer struct {
		med *diago.DialogMedia
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		med, err := d.Invite(ctx, diago.InviteClientOptions{Headers: headers})
		if err == nil {
			if err = d.Ack(ctx); err != nil {
				med = nil
			}
		}
		ch <- answer{med, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			_ = d.Close()
			return nil, nil, a.err
		}
		return d, a.med, nil
	case <-ctx.Done():
		go func() {
			if a := <-ch; a.err == nil {
				hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = d.Hangup(hctx)
				cancel()
			}
			_ = d.Close()
		}()
		return nil, nil, ctx.Err()
	}
}

// hangupReasonOf maps a failed INVITE to VoIPbin's hangup reason.
func hangupReasonOf(err error) string {
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) && de.Res != nil {
		switch de.Res.StatusCode {
		case sip.StatusBusyHere, 600:
			return HangupReasonBusy
		case sip.StatusRequestTimeout, sip.StatusTemporarilyUnavailable:
			return HangupReasonNoanswer
		}
		return HangupReasonFailed
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return HangupReasonNoanswer
	}
	if errors.Is(err, context.Canceled) {
		return HangupReasonCancel
	}
	return HangupReasonFailed
}

// Dial places an outbound call to each destination (POST /v1.0/calls); each runs the flow (or the inline
// actions) once answered. It answers the call records at once, dialling; the calls go on in the background.
func (r *Runner) Dial(ctx context.Context, d DialRequest) ([]Call, error) {
	if err := r.admission(r.Active() + len(d.Destinations)); err != nil {
		r.cfg.Metrics.DialsRefused.WithLabelValues(refusalReason(err)).Inc()
		return nil, err
	}
	if len(d.Destinations) == 0 {
		return nil, fmt.Errorf("%w: no destinations", ErrBadDestination)
	}
	uris := make([]sip.Uri, len(d.Destinations))
	for i, a := range d.Destinations {
		u, err := r.destinationURI(a)
		if err != nil {
			return nil, err
		}
		uris[i] = u
	}
	out := make([]Call, 0, len(d.Destinations))
	for i, dest := range d.Destinations {
		rec := Call{
			ID: newCallID(), CustomerID: d.CustomerID, FlowID: d.FlowID, Direction: DirectionOutgoing,
			Source: d.Source, Destination: dest, Status: StatusDialing,
		}
		dl := &dialLeg{}
		dl.ctx, dl.cancel = context.WithCancel(context.WithoutCancel(r.base))
		c := newCall(r, rec, dl)
		if err := r.track(c, "", false); err != nil {
			dl.cancel()
			r.cfg.Metrics.DialsRefused.WithLabelValues(refusalReason(err)).Inc()
			return out, err
		}
		if err := r.cfg.Ledger.CreateCall(ctx, &c.rec); err != nil {
			r.release(c)
			dl.cancel()
			return out, fmt.Errorf("sip: create call record: %w", err)
		}
		out = append(out, c.rec)
		r.wg.Add(1)
		go r.dialOut(c, dl, uris[i], d)
	}
	return out, nil
}

// dialLeg is an outbound call's leg: none until answered, then the diago dialog.
type dialLeg struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	d      *diago.DialogClientSession
}

func (l *dialLeg) Context() context.Context { return l.ctx }
func (l *dialLeg) Hangup(ctx context.Context) error {
	l.mu.Lock()
	d := l.d
	l.mu.Unlock()
	l.cancel()
	if d == nil {
		return nil
	}
	return d.Hangup(ctx)
}

func (r *Runner) dialOut(c *call, dl *dialLeg, to sip.Uri, req DialRequest) {
	defer r.wg.Done()
	defer r.release(c)
	rctx, cancel := context.WithTimeout(dl.ctx, r.cfg.RingTimeout)
	c.update(func(rc *Call) { rc.Status = StatusRinging; rc.TmRinging = time.Now().UTC() })
	d, med, err := r.invite(rctx, req.Source, to)
	cancel()
	if err != nil {
		reason := hangupReasonOf(err)
		if c.hungUpLocally.Load() {
			reason = HangupReasonCancel
		}
		c.hangupReason.Store(reason)
		c.hungUpLocally.Store(true)
		c.log.Info("outbound call not answered", "to", to.String(), "reason", reason, "err", err)
		c.finish()
		return
	}
	dl.mu.Lock()
	dl.d = d
	dl.mu.Unlock()
	// The call ends when the dialog does.
	go func() {
		select {
		case <-d.Context().Done():
			dl.cancel()
		case <-dl.ctx.Done():
		}
	}()
	c.startMedia(med)
	c.update(func(rc *Call) { rc.Status = StatusProgressing; rc.TmProgressing = time.Now().UTC() })
	start := StartRequest{CustomerID: req.CustomerID, FlowID: req.FlowID, Actions: req.Actions, Variables: req.Variables,
		ReferenceType: "call", ReferenceID: c.rec.ID}
	if req.FlowID == uuid.Nil && len(req.Actions) == 0 {
		start.Actions = []flow.Action{{ID: uuid.New(), Type: flow.TypeHangup}}
	}
	c.run(start)
	c.finish()
}

// doConnect dials the destinations at once and bridges the caller with the first that answers; the others are
// cancelled. The action ends when either side hangs up (the flow then goes on, or ends with the caller). When
// none answers, it ends at once and the flow goes on with the next action, as VoIPbin's does.
func (c *call) doConnect(opt json.RawMessage) (string, string) {
	var o struct {
		Destinations []struct {
			Type   string `json:"type"`
			Target string `json:"target"`
		} `json:"destinations"`
		SourceRaw *struct {
			Type   string `json:"type"`
			Target string `json:"target"`
			Name   string `json:"name"`
		} `json:"source"`
	}
	if err := jsonUnmarshal(opt, &o); err != nil {
		return outcomeFailed, "connect options: " + err.Error()
	}
	src := c.rec.Source
	if o.SourceRaw != nil && o.SourceRaw.Target != "" {
		src = Address{Type: o.SourceRaw.Type, Target: o.SourceRaw.Target, Name: o.SourceRaw.Name}
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.r.cfg.RingTimeout)
	defer cancel()
	type answered struct {
		d   *diago.DialogClientSession
		med *diago.DialogMedia
		err error
	}
	results := make(chan answered, len(o.Destinations))
	n := 0
	var lastErr error
	for _, dst := range o.Destinations {
		u, err := c.r.destinationURI(Address{Type: dst.Type, Target: dst.Target})
		if err != nil {
			lastErr = err
			continue
		}
		n++
		go func() {
			d, med, err := c.r.invite(ctx, src, u)
			results <- answered{d, med, err}
		}()
	}
	var winner *answered
	for range n {
		a := <-results
		if a.err != nil {
			lastErr = a.err
			continue
		}
		if winner == nil {
			winner = &a
			cancel() // the others stop ringing
			continue
		}
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = a.d.Hangup(hctx)
		hcancel()
	}
	if winner == nil {
		why := "no destination answered"
		if lastErr != nil {
			why += ": " + lastErr.Error()
		}
		return outcomeFailed, why
	}
	other := newCall(c.r, Call{ID: newCallID(), CustomerID: c.rec.CustomerID}, winner.d)
	other.startMedia(winner.med)
	c.bridge.Store(other)
	other.bridge.Store(c)
	select {
	case <-c.ctx.Done():
	case <-other.ctx.Done():
	}
	c.bridge.Store(nil)
	other.bridge.Store(nil)
	if !other.gone() {
		other.terminate(HangupReasonNormal)
	}
	other.cancel()
	return outcomeDone, ""
}
