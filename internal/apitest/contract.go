// Package apitest checks HTTP exchanges against openapi.yaml: every response a test receives must be one that the
// spec documents for its operation (status code included), and every operation must be exercised.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	flowbin "github.com/flowbin/flowbin"
)

// Contract is openapi.yaml, ready to check exchanges, with a record of the operations seen.
type Contract struct {
	spec   *openapi3.T
	router routers.Router
	// opts check answers without the details of schema errors, which kin-openapi writes for every oneOf branch it
	// tries (the whole schema and value, indented): most of a check's time on large answers. detailed, with them,
	// only explains an answer that failed.
	opts, detailed *openapi3filter.Options

	mu   sync.Mutex
	seen map[string]bool
}

var registerDecoders sync.Once

// Load reads and validates the embedded openapi.yaml.
func Load() (*Contract, error) {
	// The documentation assets: read as text (or bytes), checked for their documented content type.
	registerDecoders.Do(func() {
		for _, ct := range []string{"text/html", "text/css", "application/javascript", "text/vnd.mermaid", "text/vnd.graphviz"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
		}
		openapi3filter.RegisterBodyDecoder("image/png", openapi3filter.FileBodyDecoder)
	})
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(flowbin.OpenAPIYAML())
	if err != nil {
		return nil, fmt.Errorf("apitest: load spec: %w", err)
	}
	if err := spec.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("apitest: spec is invalid: %w", err)
	}
	spec.Servers = nil // match any host
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		return nil, fmt.Errorf("apitest: router: %w", err)
	}
	options := func(schema ...openapi3.SchemaValidationOption) *openapi3filter.Options {
		return &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: append([]openapi3.SchemaValidationOption{
				openapi3.WithStringFormatValidator("uuid", flowbin.UUIDFormat{})}, schema...),
		}
	}
	return &Contract{
		spec:     spec,
		router:   router,
		opts:     options(openapi3.DisableSchemaErrorDetails()),
		detailed: options(),
		seen:     map[string]bool{},
	}, nil
}

// MustLoad is Load for package-level variables of tests.
func MustLoad() *Contract {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

// Check validates one response to req. Requests to routes that are not in the spec must be answered with the
// error envelope.
func (c *Contract) Check(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if status < 400 {
			return fmt.Errorf("%s %s is not in the spec but answered %d", req.Method, req.URL.Path, status)
		}
		return c.checkEnvelope(header, body)
	}
	c.mu.Lock()
	c.seen[route.Operation.OperationID] = true
	c.mu.Unlock()
	validate := func(opts *openapi3filter.Options) error {
		return openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route, Options: opts,
			},
			Status:  status,
			Header:  header,
			Body:    io.NopCloser(bytes.NewReader(body)),
			Options: opts,
		})
	}
	if err := validate(c.opts); err != nil {
		if detailed := validate(c.detailed); detailed != nil {
			err = detailed
		}
		return fmt.Errorf("%s %s answered %d, which does not match the spec: %w\nbody: %s",
			req.Method, req.URL.Path, status, err, truncate(body))
	}
	if status >= 400 {
		return c.checkEnvelope(header, body)
	}
	return nil
}

func (c *Contract) checkEnvelope(header http.Header, body []byte) error {
	if len(body) == 0 { // HEAD
		return nil
	}
	if ct := header.Get("Content-Type"); ct != "application/json" && ct != "application/json; charset=UTF-8" {
		return fmt.Errorf("error answer has Content-Type %q, want application/json", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("error answer is not JSON: %w: %s", err, truncate(body))
	}
	schema := c.spec.Components.Schemas["Error"].Value
	if err := schema.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("error answer is not the envelope: %w: %s", err, truncate(body))
	}
	return nil
}

// Missing lists the operations never seen, sorted.
func (c *Contract) Missing() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var missing []string
	for _, item := range c.spec.Paths.Map() {
		for _, op := range item.Operations() {
			if !c.seen[op.OperationID] {
				missing = append(missing, op.OperationID)
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// OperationIDs lists every operation of the spec, sorted.
func (c *Contract) OperationIDs() []string {
	var ids []string
	for _, item := range c.spec.Paths.Map() {
		for _, op := range item.Operations() {
			ids = append(ids, op.OperationID)
		}
	}
	sort.Strings(ids)
	return ids
}

// Spec is the loaded spec.
func (c *Contract) Spec() *openapi3.T { return c.spec }

// Transport is an http.RoundTripper that checks every response it carries against the contract and fails the
// test on a mismatch.
type Transport struct {
	Base     http.RoundTripper
	Contract *Contract
	T        testing.TB
}

// RoundTrip sends the request and checks the response.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := tr.Base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err := tr.Contract.Check(req, res.StatusCode, res.Header, body); err != nil {
		tr.T.Errorf("contract: %v", err)
	}
	return res, nil
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}
