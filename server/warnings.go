package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/flowbin/flowbin/flow"
)

// Warnings reach the client as Warning headers (RFC 7234 §5.5, as Kubernetes sends them): warn-code 299
// ("miscellaneous persistent warning"), agent "flowbin", one header per warning.
const (
	headerWarning = "Warning"
	// maxWarningBytes bounds the Warning headers of one answer (Kubernetes: 4 KiB); maxWarningText bounds one.
	maxWarningBytes = 4 << 10
	maxWarningText  = 512
	paramFieldValid = "field_validation"
)

// warningSink collects the warnings of one request into the headers of its answer. It holds the echo.Context
// rather than its response: the idempotency middleware swaps the response for a recorder, and warnings belong in
// whatever answer is stored and sent.
type warningSink struct {
	c     echo.Context
	mode  flow.FieldValidation
	bytes int
}

type warningKey struct{}

// fieldValidation reads the request's field validation mode (?field_validation= where the operation takes it,
// else the server's) and gives the request a warning sink. An invalid value is left to the validator, which
// answers 400.
func (s *Server) fieldValidation(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		mode := s.fields
		if op := s.operation(c); op != nil && op.fieldValidation {
			if m, err := flow.ParseFieldValidation(c.QueryParam(paramFieldValid)); err == nil {
				mode = m
			}
		}
		w := &warningSink{c: c, mode: mode}
		c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), warningKey{}, w)))
		return next(c)
	}
}

func sinkFrom(ctx context.Context) *warningSink {
	w, _ := ctx.Value(warningKey{}).(*warningSink)
	return w
}

// fieldsFrom is the request's field validation mode (Strict outside a request).
func fieldsFrom(ctx context.Context) flow.FieldValidation {
	if w := sinkFrom(ctx); w != nil {
		return w.mode
	}
	return flow.FieldsStrict
}

// warn adds the problems to the answer's Warning headers, within the bound; a last header says how many were
// left out: those beyond the bound, and notListed more that were found but never listed (a report keeps the first
// flow.MaxProblems).
func warn(ctx context.Context, problems []flow.Problem, notListed int) {
	w := sinkFrom(ctx)
	if w == nil {
		return
	}
	h := w.c.Response().Header()
	dropped := notListed
	for i, p := range problems {
		v := warningValue(p)
		if w.bytes+len(v) > maxWarningBytes-128 { // room for the count of those left out
			dropped += len(problems) - i
			break
		}
		w.bytes += len(v)
		h.Add(headerWarning, v)
	}
	if dropped > 0 {
		h.Add(headerWarning, warningText(fmt.Sprintf("%d more warnings were left out; POST /v1.0/flows/validate lists "+
			"the first %d warnings of a flow and says how many it did not list", dropped, flow.MaxProblems)))
	}
}

// warningValue is a problem as the value of a Warning header: 299 flowbin "<pointer>: <message>".
func warningValue(p flow.Problem) string {
	text := p.Message
	if p.Pointer != "" {
		text = p.Pointer + ": " + text
	}
	return warningText(text)
}

// warningText quotes text as the warn-text of a Warning header: a quoted-string with '"' and '\' escaped,
// control characters replaced by spaces, at most maxWarningText bytes (cut on a character boundary).
func warningText(text string) string {
	var b strings.Builder
	b.WriteString(`299 flowbin "`)
	n := 0
	for _, r := range text {
		size := utf8.RuneLen(r)
		if n+size > maxWarningText {
			b.WriteString("…")
			break
		}
		n += size
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// dropUnknownFields applies the field validation mode to a JSON body that the OpenAPI validator checks (not a flow
// definition: package flow reads those), when its schema allows no members beyond its properties: the members
// its schema lists in x-ignored-fields (VoIPbin's read-only fields) are removed quietly in every mode; other
// unknown members of the top-level object are removed, with a warning in Warn mode, unless the mode is Strict:
// then the validator refuses them, as before.
func dropUnknownFields(c echo.Context, op *operation) error {
	rb := op.route.Operation.RequestBody
	if rb == nil || rb.Value == nil {
		return nil
	}
	media := rb.Value.Content.Get(echo.MIMEApplicationJSON)
	if media == nil || media.Schema == nil || media.Schema.Value == nil || !closed(media.Schema.Value) {
		return nil
	}
	schema := media.Schema.Value
	req := c.Request()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return badRequest(reasonInvalidBody, "could not read the request body")
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	keys, members, ok := objectMembers(body)
	if !ok {
		return nil // not a JSON object: the validator says what is wrong
	}
	mode, ignored := fieldsFrom(req.Context()), ignoredFields(schema)
	var problems []flow.Problem
	dropped := false
	for _, key := range keys {
		if _, known := schema.Properties[key]; known {
			continue
		}
		if !ignored[key] && mode == flow.FieldsStrict {
			continue
		}
		delete(members, key)
		dropped = true
		if !ignored[key] {
			problems = append(problems, flow.Problem{Pointer: pointerOf([]string{key}), Reason: flow.ReasonUnknownField,
				Message: fmt.Sprintf("unknown field %q was dropped", key)})
		}
	}
	if !dropped {
		return nil
	}
	stripped, err := json.Marshal(members)
	if err != nil {
		return err
	}
	req.Body = io.NopCloser(bytes.NewReader(stripped))
	req.ContentLength = int64(len(stripped))
	if mode == flow.FieldsWarn {
		warn(req.Context(), problems, 0)
	}
	return nil
}

// ignoredFields reads a schema's x-ignored-fields: members accepted and dropped quietly.
func ignoredFields(s *openapi3.Schema) map[string]bool {
	list, _ := s.Extensions["x-ignored-fields"].([]any)
	out := make(map[string]bool, len(list))
	for _, v := range list {
		if name, ok := v.(string); ok {
			out[name] = true
		}
	}
	return out
}

// closed reports whether an object schema allows no members beyond its properties.
func closed(s *openapi3.Schema) bool {
	return s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has && len(s.Properties) > 0
}

// objectMembers reads a JSON object's members, and their keys in the order of the text.
func objectMembers(body []byte) ([]string, map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, false
	}
	var keys []string
	members := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, false
		}
		if _, seen := members[key]; !seen {
			keys = append(keys, key)
		}
		members[key] = v
	}
	return keys, members, true
}
