package activeflow

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// SimulateRequest runs actions (a flow's, at a revision, or inline ones) to their end with a scripted runner.
type SimulateRequest struct {
	CustomerID uuid.UUID
	// FlowID and Revision name the flow the actions are of; uuid.Nil: inline actions.
	FlowID    uuid.UUID
	Revision  int
	Actions   []flow.Action
	Variables map[string]string
	Script    flow.Script
	// WebhookResponses answer the sync webhook_sends, in turn; once they run out, one is not sent.
	WebhookResponses []flow.WebhookResponse
	// Now is the simulation's clock, fixed; zero: the service's.
	Now time.Time
}

// Simulate runs an ephemeral execution to its end, as an activeflow would run with a runner following the script:
// the same variables (a fresh voipbin.activeflow.id), the same limits, the same engine path. Nothing is stored
// and no webhook is sent (a sync one gets the next scripted answer); a fetch requests its actions.
func (s *Service) Simulate(ctx context.Context, r SimulateRequest) (*flow.Execution, error) {
	var clock func() time.Time
	if !r.Now.IsZero() {
		now := r.Now
		clock = func() time.Time { return now }
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	x := flow.NewExecution(flow.Origin{ActiveflowID: id, FlowID: r.FlowID, Revision: r.Revision}, r.Actions, r.Variables)
	e := s.engine(r.CustomerID, clock, &simulated{sender: s.sender(r.CustomerID, nil), answers: r.WebhookResponses})
	e.Simulated = true
	if err := e.Simulate(ctx, x, r.Script); err != nil {
		return nil, err
	}
	return x, nil
}

// simulated is a simulation's Outbound: it fetches, and sends nothing: a sync webhook_send gets the next
// scripted answer.
type simulated struct {
	*sender
	answers []flow.WebhookResponse
}

func (o *simulated) Send(context.Context, flow.WebhookRequest) (flow.WebhookResponse, error) {
	if len(o.answers) == 0 {
		return flow.WebhookResponse{}, flow.ErrNotSent
	}
	res := o.answers[0]
	o.answers = o.answers[1:]
	return res, nil
}
