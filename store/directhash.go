package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// DirectHashPrefix begins every direct hash: VoIPbin's direct calls are to the SIP user "direct.<hex>".
const DirectHashPrefix = "direct."

// newDirectHash is DirectHashPrefix and 12 random hex digits (48 bits), as VoIPbin's.
func newDirectHash() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return DirectHashPrefix + hex.EncodeToString(b), nil
}

// RegenerateDirectHash gives a live flow of the customer a new direct hash, replacing the one before, and answers
// the flow. Neither its definition nor its revision changes.
func (s *Store) RegenerateDirectHash(ctx context.Context, customerID, id uuid.UUID) (*Flow, error) {
	var out *Flow
	// A collision of 48 random bits is all but impossible; a retry covers it rather than answering 409.
	for range 3 {
		hash, err := newDirectHash()
		if err != nil {
			return nil, fmt.Errorf("store: regenerate direct hash: %w", err)
		}
		err = s.InTx(ctx, func(ctx context.Context) error {
			res := liveFlows(customerID)(s.conn(ctx)).Where("id = ?", id).
				Updates(map[string]any{"direct_hash": hash})
			if res.Error != nil {
				return classify(res.Error)
			}
			if res.RowsAffected == 0 {
				return notFound("flow", id)
			}
			s.flowChanged(ctx, id)
			f, err := s.GetFlow(ctx, customerID, id)
			out = f
			return err
		})
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: regenerate direct hash: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("store: regenerate direct hash: %w", ErrConflict)
}

// FlowByDirectHash reads the live flow with this direct hash, whichever customer it belongs to (to route a
// call).
func (s *Store) FlowByDirectHash(ctx context.Context, hash string) (*Flow, error) {
	f, err := getOne[Flow](s.conn(ctx).Where("direct_hash = ? AND tm_delete IS NULL", hash), "flow", "")
	if err != nil {
		return nil, fmt.Errorf("store: flow by direct hash: %w", err)
	}
	return f, nil
}
