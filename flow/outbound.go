package flow

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// What the actions flowbin runs itself and that reach the customer's systems (webhook_send.go, fetch.go) ask for
// and get back. The engine decides what to send; the Engine's Outbound sends what the execution waits for (the
// guarded outbound client), and the webhook_sends that do not wait come back in the Step, queued for the outbox.

// WebhookRequest is what a webhook_send sends.
type WebhookRequest struct {
	URI      string
	Method   string // POST unless the action says otherwise
	DataType string // the Content-Type of Data
	Data     string
	// Sync requests are sent before the execution goes on; the others are queued for delivery in the background.
	Sync bool
	// ActiveflowID and Step name the request: the execution's voipbin.activeflow.id and the webhook_send's step,
	// the same when a step is performed again (its webhook-id, so that receivers drop repeats).
	ActiveflowID uuid.UUID
	Step         int
}

// WebhookResponse is what a sync webhook_send's URI answered.
type WebhookResponse struct {
	Status int
	Body   []byte
	// ContentType is the answer's Content-Type.
	ContentType string
	// Took is how long the request took.
	Took time.Duration
}

// AbortError is an Outbound's refusal to perform a request at all (the step belongs to someone else): the
// advance stops at once and returns it, and the execution must not be saved.
type AbortError struct{ Err error }

func (e *AbortError) Error() string { return "flow: aborted: " + e.Err.Error() }
func (e *AbortError) Unwrap() error { return e.Err }

// Abort marks an Outbound's error as an AbortError.
func Abort(err error) error { return &AbortError{Err: err} }

// ErrNotSent is what an Outbound answers for a request it does not send (a simulation's webhook_send without a
// scripted answer).
var ErrNotSent = errors.New("not sent")

// FetchRequest is what a fetch requests.
type FetchRequest struct {
	URL    string
	Method string
	// Body is the JSON document sent with methods other than GET: the execution's id and variables.
	Body []byte
}

// FetchResult is what the fetch's URL answered.
type FetchResult struct {
	Status int
	Body   []byte
}
