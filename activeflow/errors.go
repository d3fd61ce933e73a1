package activeflow

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// StaleError is a report of an action or step that is not the activeflow's current one, or a change that lost a
// race with another (another runner advanced the activeflow first). Nothing was performed nor written.
type StaleError struct {
	// ActionID and Step are what the report named; ActionID is uuid.Nil for a change that is not a report (stop,
	// delete).
	ActionID uuid.UUID
	Step     int
	// Current is the activeflow's current action, when the report was refused for naming another; nil when it
	// lost a race.
	Current *flow.Executed
}

func (e *StaleError) Error() string {
	if e.ActionID == uuid.Nil {
		return "activeflow: the activeflow changed meanwhile"
	}
	if e.Current != nil {
		return fmt.Sprintf("activeflow: action %s (step %d) is not the current action %s (step %d)", e.ActionID, e.Step, e.Current.ID, e.Current.Step)
	}
	return fmt.Sprintf("activeflow: action %s (step %d): another runner advanced the activeflow", e.ActionID, e.Step)
}

// EndedError is a report to an activeflow that has ended.
type EndedError struct {
	EndReason string
}

func (e *EndedError) Error() string {
	return "activeflow: the activeflow has ended (" + e.EndReason + ")"
}

// ExistsError is a start with an id that an activeflow already has.
type ExistsError struct {
	ID uuid.UUID
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("activeflow: activeflow %s already exists", e.ID)
}
