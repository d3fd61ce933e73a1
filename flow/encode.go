package flow

import (
	"encoding/json"

	"github.com/google/uuid"
)

// AppendActions appends the JSON of an action list, as json.Marshal writes it ([]Action), without its reflection
// and without compacting the options again: an Action's Option is compact JSON already, as the parser rendered
// it or as the database returned what was written. A flow's write encodes its actions once, with this.
func AppendActions(dst []byte, actions []Action) []byte {
	dst = append(dst, '[')
	for i := range actions {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendAction(dst, &actions[i])
	}
	return append(dst, ']')
}

func appendAction(dst []byte, a *Action) []byte {
	dst = append(dst, `{"id":"`...)
	dst = appendUUID(dst, a.ID)
	dst = append(dst, '"')
	if a.Name != "" {
		dst = append(dst, `,"name":`...)
		dst = appendJSONString(dst, a.Name)
	}
	if a.NextID != uuid.Nil {
		dst = append(dst, `,"next_id":"`...)
		dst = appendUUID(dst, a.NextID)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, string(a.Type))
	if len(a.Option) > 0 {
		dst = append(dst, `,"option":`...)
		dst = append(dst, a.Option...)
	}
	return append(dst, '}')
}

// appendUUID appends the canonical form of id (8-4-4-4-12 lower-case hex digits), as uuid.UUID.String writes it.
func appendUUID(dst []byte, id uuid.UUID) []byte {
	const hexDigits = "0123456789abcdef"
	for i, b := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0x0f])
	}
	return dst
}

// appendJSONString appends s as a JSON string: as it is when it needs no escape (action types never do), else
// as encoding/json writes it.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
