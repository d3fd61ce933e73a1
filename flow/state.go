package flow

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// EncodeExecuted writes one executed action as the stored format keeps it: in version 1 an element of the
// document's "executed", in version 2 a row of its own (the store's activeflow_actions). Options are kept byte
// for byte, as Encode keeps them.
func EncodeExecuted(r *Executed) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("flow: encode executed action: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// DecodeExecuted reads what EncodeExecuted wrote.
func DecodeExecuted(b []byte) (Executed, error) {
	var r Executed
	if err := json.Unmarshal(b, &r); err != nil {
		return Executed{}, fmt.Errorf("flow: decode executed action: %w", err)
	}
	return r, nil
}
