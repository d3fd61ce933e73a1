package flow

import (
	"errors"
	"fmt"
)

// TypeFetchFlow runs the actions of another flow of the customer (its current revision), then comes back.
const TypeFetchFlow Type = "fetch_flow"

type fetchFlowOptions struct {
	FlowID string `json:"flow_id"`
}

var _ = register(actionType{
	Spec: Spec{Type: TypeFetchFlow, Fields: []Field{{Name: "flow_id", Kind: KindID, Required: true, Ref: RefFlow}}},
	rule: controlRule(nil, runFetchFlow),
})

func runFetchFlow(c *call, o *fetchFlowOptions) error {
	id, ok := ParseID(o.FlowID)
	var actions []Action
	var revision int
	err := ErrFlowNotFound
	if len(c.x.Frames) >= maxFrames {
		c.end(EndFetchFlowDepth, fmt.Sprintf("fetch_flow nested more than %d deep", maxFrames-1))
		return nil
	}
	if ok && c.e.Flows != nil {
		actions, revision, err = c.e.Flows(c.ctx, id)
	}
	if errors.Is(err, ErrFlowNotFound) {
		c.end(EndFetchFlowNotFound, fmt.Sprintf("flow %s not found", o.FlowID))
		return nil
	}
	if err != nil {
		return fmt.Errorf("flow: fetch_flow %s: %w", id, err)
	}
	frame := Frame{FlowID: id, Revision: revision, Actions: actions}
	if !c.x.fits(c.e.Limits, frameSize(&frame)) {
		c.end(EndStateLimit, fmt.Sprintf("flow %s would make the execution's state larger than %d bytes", id, c.e.Limits.maxState()))
		return nil
	}
	c.take(0, "fetch", fmt.Sprintf("flow %s at revision %d", id, revision)) // where to come back to
	c.x.push(frame)
	return nil
}
