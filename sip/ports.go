// Package sip answers and places phone calls over SIP and runs their flows on them: it is a runner of the
// activeflow protocol whose actions (answer, talk, digits_receive, play, connect…) are performed on a real call.
// The SIP and RTP stack (emiago/diago on emiago/sipgo, MPL-2.0, v0.x) is used unmodified, pinned, and kept behind
// the small interfaces of this package; the workarounds its gaps need (RFC 4733 parsing, SIP INFO) live here.
//
// This file is the contract with the rest of flowbin: the records the runner keeps (Ledger), where inbound calls
// go (Directory), and how it drives an activeflow (Flows).
package sip

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// Route is where an inbound call goes.
type Route struct {
	CustomerID uuid.UUID
	FlowID     uuid.UUID
	NumberID   uuid.UUID // zero for a direct call (request-URI user "direct.<hash>")
}

var (
	// ErrUnknownNumber is returned by a Directory for a user it does not know; the INVITE is answered 404.
	ErrUnknownNumber = errors.New("sip: unknown number")
	// ErrNoFlow is returned by a Directory for a number that has no call flow; the INVITE is answered 480.
	ErrNoFlow = errors.New("sip: number has no flow")
)

// Directory resolves the user part of an INVITE's request-URI: a customer's E.164 number or direct.<hash>.
type Directory interface {
	Route(ctx context.Context, user string) (Route, error)
}

// Address as VoIPbin's commonaddress: {"type": "tel"|"sip"|..., "target": "...", "target_name": "...", "name": "..."}.
type Address struct{ Type, Target, TargetName, Name string }

// Call statuses, in VoIPbin's vocabulary.
const (
	StatusDialing     = "dialing"
	StatusRinging     = "ringing"
	StatusProgressing = "progressing"
	StatusTerminating = "terminating"
	StatusCanceling   = "canceling"
	StatusHangup      = "hangup"
)

// Call directions.
const (
	DirectionIncoming = "incoming"
	DirectionOutgoing = "outgoing"
)

// Who hung up, and why (VoIPbin's hangup_by and hangup_reason).
const (
	HangupByLocal  = "local"
	HangupByRemote = "remote"

	HangupReasonNormal   = "normal"
	HangupReasonFailed   = "failed"
	HangupReasonBusy     = "busy"
	HangupReasonCancel   = "cancel"
	HangupReasonTimeout  = "timeout"
	HangupReasonNoanswer = "noanswer"
	HangupReasonDialout  = "dialout"
	HangupReasonAMD      = "amd"
)

// Call is the runner's view of a call record, in VoIPbin's vocabulary.
type Call struct {
	ID, CustomerID, FlowID, ActiveflowID uuid.UUID
	Direction                            string // "incoming" | "outgoing"
	Source, Destination                  Address
	Status                               string // dialing, ringing, progressing, terminating, canceling, hangup
	HangupBy                             string // "local" | "remote" | ""
	HangupReason                         string // normal, failed, busy, cancel, timeout, noanswer, dialout, amd
	RecordingIDs                         []uuid.UUID
	TmRinging, TmProgressing, TmHangup   time.Time // zero = not yet
	// RunnerID is the runner that carries the call, and LeaseUntil when its lease ends unless renewed (Leases);
	// both are written when the call is created.
	RunnerID   uuid.UUID
	LeaseUntil time.Time
}

// Recording is a WAV file of a call's audio.
type Recording struct {
	ID, CustomerID, CallID, ActiveflowID uuid.UUID
	Status                               string // "recording" | "ended"
	Format                               string // "wav"
	Path                                 string // the file under the data directory
	TmStart, TmEnd                       time.Time
}

// Ledger keeps call and recording records, and writes their events (call_created, call_ringing,
// call_progressing, call_hangup, recording_started, recording_finished) in the same transaction.
type Ledger interface {
	CreateCall(ctx context.Context, c *Call) error
	UpdateCall(ctx context.Context, c *Call) error
	CreateRecording(ctx context.Context, r *Recording) error
	FinishRecording(ctx context.Context, r *Recording) error
}

// HangupReasonRunnerLost is the hangup_reason of a call whose runner was lost (its instance crashed or was
// killed): VoIPbin's closest reason, "failed" (the call did not complete as it should). hangup_by is "local".
const HangupReasonRunnerLost = HangupReasonFailed

// Leases is what a Ledger may offer so that calls survive the loss of the instance that carries them: each
// runner renews the lease of all its calls periodically (one write per runner, whatever its number of calls),
// and any runner ends the calls whose lease expired (ReapCalls): hangup with HangupReasonRunnerLost, their
// activeflows ended "hangup", their recordings closed, and call_hangup written once even when several runners
// reap at the same time.
type Leases interface {
	RenewLeases(ctx context.Context, runnerID uuid.UUID, until time.Time) error
	// ReapCalls ends calls whose lease expired and answers how many this caller ended.
	ReapCalls(ctx context.Context) (int, error)
}

// Flows drives an activeflow: the same use case as POST /v1.0/activeflows and its /next protocol. Stop ends the
// activeflow of a call that ended (or is being hung up) before it did: end_reason hangup.
type Flows interface {
	Start(ctx context.Context, s StartRequest) (Step, error)
	Next(ctx context.Context, customerID, activeflowID uuid.UUID, step int, report Report) (Step, error)
	Stop(ctx context.Context, customerID, activeflowID uuid.UUID) error
}

// StartRequest starts the activeflow of a call.
type StartRequest struct {
	CustomerID, FlowID uuid.UUID
	Actions            []flow.Action // inline actions instead of FlowID (outbound calls may carry them)
	Variables          map[string]string
	ReferenceType      string // "call"
	ReferenceID        uuid.UUID
}

// Step is the runner action to perform now, or the end.
type Step struct {
	ActiveflowID uuid.UUID
	Step         int
	Action       *flow.Action // nil when Ended
	Ended        bool
	EndReason    string
}

// Report is what the runner observed while performing the last action: its variables (voipbin.call.digits…),
// and a result where the action has one.
type Report struct {
	Variables map[string]string
	Result    string
}

// DialRequest places outbound calls (POST /v1.0/calls): one call per destination, each running the flow (or the
// inline actions) once answered.
type DialRequest struct {
	CustomerID   uuid.UUID
	FlowID       uuid.UUID     // uuid.Nil when Actions are given
	Actions      []flow.Action // inline actions
	Source       Address
	Destinations []Address
	Variables    map[string]string
}

// Dialing outbound calls (POST /v1.0/calls) and hanging up (POST /v1.0/calls/{id}/hangup) are methods of the
// runner:
//
//	func (r *Runner) Dial(ctx context.Context, d DialRequest) ([]Call, error)
//	func (r *Runner) Hangup(ctx context.Context, customerID, callID uuid.UUID) error
//
// A hangup request may arrive at another instance than the one holding the call: 26a marks the call
// "terminating" in the database and announces it on the change listener (store/changes.go); the instance holding
// the call hangs it up (Hangup returns ErrCallNotHere when it holds no such call).
var ErrCallNotHere = errors.New("sip: call not held by this instance")

// Why the runner takes no more calls now. Dial returns them (wrapped); an INVITE refused for one is answered as
// its documentation says, and counted in flowbin_sip_invites_rejected_total with its reason.
var (
	// ErrInstanceFull: the instance carries MaxCalls calls. An INVITE is answered 503 with Retry-After
	// (RetryAfterFull), so that a proxy tries another instance.
	ErrInstanceFull = errors.New("sip: this instance is at its limit of calls in progress")
	// ErrCustomerFull: the customer has MaxCallsPerCustomer calls on this instance. An INVITE is answered 486 Busy
	// Here: the callee (the customer's numbers) is busy, and another instance would not change that for long.
	ErrCustomerFull = errors.New("sip: the customer is at its limit of calls in progress on this instance")
	// ErrShuttingDown: the instance is draining. An INVITE is answered 503 with Retry-After (RetryAfterShutdown),
	// so that a proxy fails over and leaves the instance out meanwhile.
	ErrShuttingDown = errors.New("sip: this instance is shutting down")
)

// The Retry-After of the runner's 503 answers.
const (
	RetryAfterFull     = 5 * time.Second
	RetryAfterShutdown = 60 * time.Second
)
