package activeflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store"
)

// The event payloads, in the shape of VoIPbin's activeflow WebhookMessage (bin-flow-manager's
// models/activeflow/webhook.go) inside its event envelope {"type", "data"}: every field VoIPbin sends, with
// VoIPbin's value when unset (the nil UUID, "api"), and flowbin's own (flow_revision, end_reason, step) beside
// them. openapi.yaml's ActiveflowEventData documents it; the tests check payloads against it.

// VoIPbin's reserved action ids: the cursor before the first action and after the last.
var (
	actionStart  = uuid.MustParse("00000000-0000-0000-0000-000000000001")
	actionFinish = uuid.MustParse("00000000-0000-0000-0000-000000000002")
)

// timeLayout is the wire format of timestamps (openapi.yaml's Timestamp).
const timeLayout = "2006-01-02 15:04:05.000000"

type eventBody struct {
	Type string    `json:"type"`
	Data eventData `json:"data"`
}

type eventData struct {
	ID                     uuid.UUID         `json:"id"`
	CustomerID             uuid.UUID         `json:"customer_id"`
	FlowID                 uuid.UUID         `json:"flow_id"`
	FlowRevision           *int              `json:"flow_revision,omitempty"`
	Status                 string            `json:"status"`
	EndReason              string            `json:"end_reason,omitempty"`
	ReferenceType          string            `json:"reference_type"`
	ReferenceID            uuid.UUID         `json:"reference_id"`
	ReferenceActiveflowID  uuid.UUID         `json:"reference_activeflow_id"`
	OnCompleteFlowID       uuid.UUID         `json:"on_complete_flow_id"`
	OnCompleteActiveflowID *uuid.UUID        `json:"on_complete_activeflow_id,omitempty"`
	CurrentAction          eventAction       `json:"current_action"`
	ForwardActionID        uuid.UUID         `json:"forward_action_id"`
	Variables              map[string]string `json:"variables,omitempty"`
	TMCreate               string            `json:"tm_create"`
	TMUpdate               string            `json:"tm_update"`
	TMDelete               string            `json:"tm_delete"`
}

type eventAction struct {
	ID        uuid.UUID       `json:"id"`
	NextID    uuid.UUID       `json:"next_id"`
	Type      string          `json:"type"`
	Option    json.RawMessage `json:"option,omitempty"`
	Step      int             `json:"step,omitempty"`
	Decision  *flow.Decision  `json:"decision,omitempty"`
	TMExecute string          `json:"tm_execute"`
}

// event is one event a change owes: its type and its encoded body.
type event struct {
	typ, body string
}

// eventsOf are what a change owes its webhooks, in order: activeflow_created for a start; activeflow_updated for
// every action its step moved to, control actions included; activeflow_updated again when it ended; and
// activeflow_deleted for a delete. withVariables: the customer asked for the variables.
func eventsOf(c *change, withVariables bool) ([]event, error) {
	a := c.a
	base := eventData{ID: a.ID, CustomerID: a.CustomerID, FlowRevision: a.FlowRevision, Status: store.ActiveflowRunning,
		ReferenceType: a.ReferenceType, OnCompleteActiveflowID: a.OnCompleteActiveflowID, TMCreate: formatTime(&a.TMCreate),
		TMUpdate: formatTime(a.TMUpdate), TMDelete: formatTime(a.TMDelete)}
	for _, id := range []struct {
		dst *uuid.UUID
		src *uuid.UUID
	}{{&base.FlowID, a.FlowID}, {&base.ReferenceID, a.ReferenceID}, {&base.ReferenceActiveflowID, a.ReferenceActiveflowID},
		{&base.OnCompleteFlowID, a.OnCompleteFlowID}} {
		if id.src != nil {
			*id.dst = *id.src
		}
	}
	if base.ReferenceType == "" {
		base.ReferenceType = ReferenceAPI
	}
	if withVariables {
		base.Variables = a.State.Variables
	}
	if c.create {
		base.TMUpdate = formatTime(&a.TMCreate) // a start's updates are written with it
	}
	var out []event
	add := func(typ string, d eventData) error {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // options as written: ">=" stays ">="
		if err := enc.Encode(eventBody{Type: typ, Data: d}); err != nil {
			return fmt.Errorf("activeflow: event payload: %w", err)
		}
		out = append(out, event{typ, string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))})
		return nil
	}
	if c.create {
		d := base
		d.CurrentAction, d.TMUpdate = eventAction{ID: actionStart}, "" // as the row reads before its first update
		if err := add(EventCreated, d); err != nil {
			return nil, err
		}
	}
	for i := range c.step.Executed {
		x := &c.step.Executed[i]
		d := base
		d.CurrentAction = eventAction{ID: x.ID, NextID: x.NextID, Type: string(x.Type), Option: x.Option, Step: x.Step,
			Decision: x.Decision, TMExecute: formatTime(&x.TMExecute)}
		if err := add(EventUpdated, d); err != nil {
			return nil, err
		}
	}
	ended := base
	if a.State.Ended {
		ended.Status, ended.EndReason = store.ActiveflowEnded, a.State.EndReason
		ended.CurrentAction = eventAction{ID: actionFinish}
	}
	if c.step.Ended {
		if err := add(EventUpdated, ended); err != nil {
			return nil, err
		}
	}
	if c.event == EventDeleted {
		if err := add(EventDeleted, ended); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func formatTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(timeLayout)
}
