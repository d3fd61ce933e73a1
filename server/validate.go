package server

import (
	"errors"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	flowbin "github.com/flowbin/flowbin"
	"github.com/flowbin/flowbin/gen"
)

var validationOptions = &openapi3filter.Options{
	MultiError: true,
	// Credentials are checked by the authenticate middleware, before validation.
	AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
	SchemaValidationOptions: []openapi3.SchemaValidationOption{
		openapi3.WithStringFormatValidator("uuid", flowbin.UUIDFormat{}),
		// Answers are built from each error's Reason and pointer, never from its Error(), which by default writes
		// the whole schema and the whole value, indented: for a large body, seconds of CPU spent on text that is
		// thrown away (kin-openapi formats the errors of every oneOf/allOf branch it tries).
		openapi3.DisableSchemaErrorDetails(),
	},
}

var flowBodyValidationOptions = func() *openapi3filter.Options {
	o := *validationOptions
	o.ExcludeRequestBody = true
	return &o
}()

// validateRequest checks parameters and bodies against the spec, and answers every violation in one 400.
func (s *Server) validateRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		op := s.operation(c)
		if op == nil {
			return next(c)
		}
		params := make(map[string]string, len(c.ParamNames()))
		for i, name := range c.ParamNames() {
			params[name] = c.ParamValues()[i]
		}
		opts := validationOptions
		if op.flowBody {
			opts = flowBodyValidationOptions
		} else if op.hasBody {
			if err := dropUnknownFields(c, op); err != nil {
				return err
			}
		}
		input := &openapi3filter.RequestValidationInput{
			Request:    c.Request(),
			PathParams: params,
			Route:      op.route,
			Options:    opts,
		}
		if err := openapi3filter.ValidateRequest(c.Request().Context(), input); err != nil {
			return validationError(c, err)
		}
		return next(c)
	}
}

// validationError turns kin-openapi's findings into the envelope: one detail per violation.
func validationError(c echo.Context, err error) error {
	var details []gen.ErrorDetail
	var unsupported bool
	for _, e := range flatten(err) {
		var re *openapi3filter.RequestError
		if !errors.As(e, &re) {
			details = append(details, gen.ErrorDetail{Reason: reasonInvalidBody, Message: e.Error()})
			continue
		}
		switch {
		case re.Parameter != nil:
			name := re.Parameter.Name
			reason := reasonInvalidParameter
			if re.Parameter.In == openapi3.ParameterInPath && re.Parameter.Name == "id" {
				reason = reasonInvalidID
			}
			msg := fmt.Sprintf("%s (%s parameter): %s", name, re.Parameter.In, parameterProblem(re))
			if reason == reasonInvalidID {
				msg = fmt.Sprintf("%q is not a valid id: ids are UUIDs", c.Param(name))
			}
			details = append(details, gen.ErrorDetail{Parameter: &name, Reason: reason, Message: msg})
		case re.RequestBody != nil:
			var schemaErrs []*openapi3.SchemaError
			for _, inner := range flatten(re.Err) {
				var se *openapi3.SchemaError
				if errors.As(inner, &se) {
					schemaErrs = append(schemaErrs, se)
				}
			}
			if len(schemaErrs) == 0 {
				if strings.Contains(re.Error(), "header Content-Type") {
					unsupported = true
					continue
				}
				reason, msg := reasonInvalidJSON, "the request body is not valid JSON"
				if re.Err != nil {
					msg += ": " + strings.TrimPrefix(re.Err.Error(), "failed to decode request body: ")
				}
				if re.Err == nil || strings.Contains(re.Error(), "value is required but missing") {
					reason, msg = reasonInvalidBody, "the request body is required"
				}
				details = append(details, gen.ErrorDetail{Reason: reason, Message: msg})
				continue
			}
			for _, se := range schemaErrs {
				ptr := pointerOf(se.JSONPointer())
				details = append(details, gen.ErrorDetail{Pointer: &ptr, Reason: reasonInvalidBody,
					Message: schemaProblem(ptr, se)})
			}
		default:
			details = append(details, gen.ErrorDetail{Reason: reasonInvalidBody, Message: re.Error()})
		}
	}
	if len(details) == 0 {
		if unsupported {
			return unsupportedMediaType()
		}
		details = append(details, gen.ErrorDetail{Reason: reasonInvalidBody, Message: err.Error()})
	}
	e := badRequest(details[0].Reason, "%s", details[0].Message)
	if len(details) > 1 {
		e.message = fmt.Sprintf("the request has %d problems; the first: %s", len(details), details[0].Message)
	}
	e.details = details
	return e
}

// flatten unwraps kin-openapi's multi-errors into their leaves, keeping each leaf's RequestError (which says
// where the problem is).
func flatten(err error) []error {
	switch e := err.(type) {
	case openapi3.MultiError:
		var out []error
		for _, inner := range e {
			out = append(out, flatten(inner)...)
		}
		return out
	case *openapi3filter.RequestError:
		if inner, ok := e.Err.(openapi3.MultiError); ok && e.Parameter != nil && len(inner) > 0 {
			out := make([]error, 0, len(inner))
			for _, leaf := range inner {
				out = append(out, &openapi3filter.RequestError{Input: e.Input, Parameter: e.Parameter, Err: leaf})
			}
			return out
		}
	}
	return []error{err}
}

func parameterProblem(re *openapi3filter.RequestError) string {
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		return se.Reason
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		return "the value does not parse: " + pe.Reason
	}
	if re.Err != nil {
		return re.Err.Error()
	}
	return re.Reason
}

func schemaProblem(ptr string, se *openapi3.SchemaError) string {
	where := ptr
	if where == "" {
		where = "the body"
	}
	return where + ": " + se.Reason
}

func pointerOf(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}
