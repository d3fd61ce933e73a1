package sip

import (
	"context"
	"errors"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo/sip"
)

// serve runs one inbound call, from its INVITE to its end; diago hangs up whatever is left when it returns.
func (r *Runner) serve(d *diago.DialogServerSession) {
	r.wg.Add(1)
	defer r.wg.Done()
	if err := r.admission(int(r.inbound.Add(1))); err != nil {
		r.inbound.Add(-1)
		r.refuse(d, refusalOf(err))
		return
	}
	defer r.inbound.Add(-1)

	ctx, cancel := context.WithTimeout(d.Context(), 10*time.Second)
	route, err := r.cfg.Directory.Route(ctx, d.ToUser())
	cancel()
	switch {
	case errors.Is(err, ErrUnknownNumber):
		r.refuse(d, refusal{sip.StatusNotFound, "Not Found", reasonUnknownNumber, 0})
		return
	case errors.Is(err, ErrNoFlow):
		r.refuse(d, refusal{sip.StatusTemporarilyUnavailable, "No Flow", reasonNoFlow, 0})
		return
	case err != nil:
		r.log.Error("route an inbound call", "to", d.ToUser(), "err", err)
		r.refuse(d, refusalOf(err))
		return
	}

	rec := Call{
		ID: newCallID(), CustomerID: route.CustomerID, FlowID: route.FlowID,
		Direction:   DirectionIncoming,
		Source:      fromAddress(d.InviteRequest),
		Destination: Address{Type: addressType(d.ToUser()), Target: d.ToUser()},
		Status:      StatusRinging,
		TmRinging:   time.Now().UTC(),
	}
	c := newCall(r, rec, d)
	c.srv = d
	sipID := ""
	if h := d.InviteRequest.CallID(); h != nil {
		sipID = h.Value()
	}
	if err := r.track(c, sipID, true); err != nil {
		r.refuse(d, refusalOf(err))
		return
	}
	defer r.release(c)

	lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = r.cfg.Ledger.CreateCall(lctx, &c.rec)
	lcancel()
	if err != nil {
		c.log.Error("create call record", "err", err)
		r.refuse(d, refusalOf(err))
		return
	}
	_ = d.Trying()
	_ = d.Ringing()
	c.run(StartRequest{CustomerID: route.CustomerID, FlowID: route.FlowID, ReferenceType: "call", ReferenceID: c.rec.ID})
	c.finish()
}

// refuse answers an INVITE with a failure and counts it.
func (r *Runner) refuse(d *diago.DialogServerSession, f refusal) {
	r.cfg.Metrics.rejected(f.code, f.reason)
	if err := d.Respond(f.code, f.phrase, nil, f.headers()...); err != nil {
		r.log.Warn("refuse a call", "code", f.code, "err", err)
	}
}

func fromAddress(req *sip.Request) Address {
	a := Address{Type: "sip"}
	if f := req.From(); f != nil {
		a.Target = f.Address.User
		a.Name = f.DisplayName
		a.Type = addressType(f.Address.User)
		if a.Type == "sip" {
			a.Target = f.Address.String()
		}
	}
	return a
}

// addressType is "tel" for an E.164 number, else "sip".
func addressType(user string) string {
	if len(user) > 1 && user[0] == '+' {
		for _, r := range user[1:] {
			if r < '0' || r > '9' {
				return "sip"
			}
		}
		return "tel"
	}
	return "sip"
}

// run drives the call's activeflow: start, then perform each action and report it, until it ends or the call
// does. Requests to flowbin are not bound to the call: a report after the caller hung up still goes.
func (c *call) run(start StartRequest) {
	flows := c.r.cfg.Flows
	fctx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(c.r.base), 15*time.Second)
	}
	ctx, cancel := fctx()
	step, err := flows.Start(ctx, start)
	cancel()
	if err != nil {
		c.log.Error("start the call's activeflow", "err", err)
		c.terminate(HangupReasonFailed)
		return
	}
	c.update(func(rc *Call) { rc.ActiveflowID = step.ActiveflowID })
	c.log = c.log.With("activeflow_id", step.ActiveflowID)
	for !step.Ended {
		if c.gone() {
			break
		}
		rep := c.perform(step.Action)
		if c.gone() && step.Action.Type != "hangup" {
			break // the caller hung up during the action: the activeflow ends below
		}
		ctx, cancel := fctx()
		step, err = flows.Next(ctx, c.rec.CustomerID, step.ActiveflowID, step.Step, rep)
		cancel()
		if err != nil {
			c.log.Error("report an action", "err", err)
			break
		}
	}
	if !step.Ended {
		ctx, cancel := fctx()
		err = flows.Stop(ctx, c.rec.CustomerID, c.rec.ActiveflowID)
		cancel()
		if err != nil {
			c.log.Error("stop the call's activeflow", "err", err)
		}
	}
}

// finish hangs up what is left, closes the recording and writes the call's end.
func (c *call) finish() {
	remote := !c.hungUpLocally.Load() && c.leg.Context().Err() != nil
	if !remote {
		c.terminate(HangupReasonNormal)
	}
	c.cancel()
	c.stopRecording()
	by, reason := HangupByLocal, HangupReasonNormal
	if remote {
		by = HangupByRemote
	} else if v, ok := c.hangupReason.Load().(string); ok && v != "" {
		reason = v
	}
	answered := c.answered.Load()
	if !answered && !remote {
		reason = HangupReasonFailed
		if v, ok := c.hangupReason.Load().(string); ok && v != HangupReasonNormal {
			reason = v
		}
	}
	if !answered && remote {
		reason = HangupReasonCancel
	}
	c.update(func(rc *Call) {
		rc.Status = StatusHangup
		rc.HangupBy, rc.HangupReason = by, reason
		rc.TmHangup = time.Now().UTC()
	})
	result := "answered"
	if !answered {
		result = "unanswered"
	}
	c.r.cfg.Metrics.Calls.WithLabelValues(c.rec.Direction, result).Inc()
}
