package server

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
	"gopkg.in/yaml.v3"
)

// operation is what the server knows of a route of the spec.
type operation struct {
	id      string
	method  string
	path    string // the spec's path, with {params}
	route   *routers.Route
	public  bool // security: []
	hasBody bool
	// flowBody: the body is a flow definition, decoded and validated by package flow, which reports every
	// problem in document order; the OpenAPI validator leaves it alone.
	flowBody bool
	// idempotent: the operation accepts an Idempotency-Key.
	idempotent bool
	// fieldValidation: the operation takes ?field_validation=.
	fieldValidation bool
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// rawBody matches an overlay target that replaces a request body's content.
var rawBody = regexp.MustCompile(`^\$\.components\.requestBodies\.([A-Za-z0-9_.-]+)\.content$`)

// rawBodies are the request bodies that the generator's overlay (gen/server-overlay.yaml) hands to the handlers
// as raw JSON, by reference ("#/components/requestBodies/FlowBody"): package flow reads them.
func rawBodies(overlay []byte) (map[string]bool, error) {
	var doc struct {
		Actions []struct {
			Target string `yaml:"target"`
			Update map[string]struct {
				Schema struct {
					GoType string `yaml:"x-go-type"`
				} `yaml:"schema"`
			} `yaml:"update"`
		} `yaml:"actions"`
	}
	if err := yaml.Unmarshal(overlay, &doc); err != nil {
		return nil, fmt.Errorf("server: read the generator's overlay: %w", err)
	}
	raw := map[string]bool{}
	for _, a := range doc.Actions {
		m := rawBody.FindStringSubmatch(a.Target)
		if m != nil && a.Update[echo.MIMEApplicationJSON].Schema.GoType == "json.RawMessage" {
			raw["#/components/requestBodies/"+m[1]] = true
		}
	}
	return raw, nil
}

// holdsActions reports whether a request body's JSON schema has an actions member: a flow definition (or inline
// actions), which package flow validates and reports on in document order.
func holdsActions(body *openapi3.RequestBodyRef) bool {
	mt := body.Value.Content.Get(echo.MIMEApplicationJSON)
	if mt == nil || mt.Schema == nil {
		return false
	}
	var has func(*openapi3.SchemaRef) bool
	has = func(ref *openapi3.SchemaRef) bool {
		if ref == nil || ref.Value == nil {
			return false
		}
		if _, ok := ref.Value.Properties["actions"]; ok {
			return true
		}
		for _, sub := range ref.Value.AllOf {
			if has(sub) {
				return true
			}
		}
		return false
	}
	return has(mt.Schema)
}

// operations indexes the spec's operations by method and Echo route path. A body is a flow body when the
// generator's overlay hands it over raw and it holds actions.
func operations(spec *openapi3.T, overlay []byte) (map[string]*operation, error) {
	raw, err := rawBodies(overlay)
	if err != nil {
		return nil, err
	}
	ops := make(map[string]*operation)
	for path, item := range spec.Paths.Map() {
		echoPath := pathParam.ReplaceAllString(path, ":$1")
		for method, op := range item.Operations() {
			o := &operation{id: op.OperationID, method: method, path: path,
				route: &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}}
			o.public = op.Security != nil && len(*op.Security) == 0
			if op.RequestBody != nil {
				o.hasBody = true
				o.flowBody = raw[op.RequestBody.Ref] && holdsActions(op.RequestBody)
			}
			o.idempotent = op.Parameters.GetByInAndName(openapi3.ParameterInHeader, headerIdempotencyKey) != nil
			o.fieldValidation = op.Parameters.GetByInAndName(openapi3.ParameterInQuery, paramFieldValid) != nil
			ops[method+" "+echoPath] = o
		}
	}
	return ops, nil
}

func allowedMethods(ops map[string]*operation, echoPath string) string {
	var methods []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if _, ok := ops[m+" "+echoPath]; ok {
			methods = append(methods, m)
			if m == http.MethodGet {
				methods = append(methods, http.MethodHead) // headAsGet
			}
		}
	}
	return strings.Join(methods, ", ")
}

// operation returns the spec operation that the request was routed to, or nil (no such route).
func (s *Server) operation(c echo.Context) *operation {
	if op, ok := c.Get("flowbin.operation").(*operation); ok {
		return op
	}
	op := s.ops[c.Request().Method+" "+c.Path()]
	c.Set("flowbin.operation", op)
	return op
}
