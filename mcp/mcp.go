// Package mcp is flowbin's MCP server: tools, resources and a prompt for AI agents that build, check and try
// flows. Every tool that touches data is a request to flowbin's own REST API with the caller's credentials, so
// that body limits, deadlines, authentication, tenancy and validation apply exactly as on the REST route; its
// input schema is derived from openapi.yaml. Served over Streamable HTTP at /mcp (Handler), in process, and over
// stdio by `flowbin mcp` (Remote), over HTTP to a flowbin server.
package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"sort"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	flowbin "github.com/flowbin/flowbin"
)

// Sender sends one request to flowbin's REST API on behalf of the caller of a tool (extra says who called, over
// HTTP; nil over stdio).
type Sender func(ctx context.Context, extra *sdk.RequestExtra, r *http.Request) (*http.Response, error)

// maxAnswer bounds an API answer read by a tool.
const maxAnswer = 16 << 20

// Instructions is what the server tells an agent on connecting.
const Instructions = "flowbin runs programmable call flows (VoIPbin's /v1.0 flows). Build a flow with " +
	"create_flow, check it with validate_flow, try it with simulate_actions or simulate_flow (nothing is called " +
	"or stored), draw it with draw_flow, and change it with update_flow, passing the etag you read as if_match. " +
	ruleLabels + " " + ruleOption + " The resource flowbin://docs/execution explains how flows run. The prompt " +
	"build_ivr walks you from a description of an IVR to a validated, simulated flow."

// New builds the MCP server over a sender. The tools' input schemas come from the embedded openapi.yaml.
func New(send Sender, version string) (*sdk.Server, error) {
	return newServer(flowbin.OpenAPIJSON(), send, version)
}

func newServer(specJSON []byte, send Sender, version string) (*sdk.Server, error) {
	sp, err := parseSpec(specJSON)
	if err != nil {
		return nil, err
	}
	if version == "" {
		version = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			version = bi.Main.Version
		}
	}
	s := sdk.NewServer(&sdk.Implementation{Name: "flowbin", Title: "flowbin", Version: version},
		&sdk.ServerOptions{Instructions: Instructions})
	for _, ts := range restTools {
		tool, h, err := restTool(sp, ts, send)
		if err != nil {
			return nil, err
		}
		s.AddTool(tool, h)
	}
	if err := addCatalog(s, sp); err != nil {
		return nil, err
	}
	addResources(s, sp)
	addPrompts(s)
	return s, nil
}

func ptr[T any](v T) *T { return &v }

// restTool builds a tool that is one operation of the API.
func restTool(sp *spec, ts toolSpec, send Sender) (*sdk.Tool, sdk.ToolHandler, error) {
	op, err := sp.operation(ts.opID)
	if err != nil {
		return nil, nil, fmt.Errorf("tool %s: %w", ts.name, err)
	}
	schema, err := sp.inputSchema(op, ts.params)
	if err != nil {
		return nil, nil, fmt.Errorf("tool %s: %w", ts.name, err)
	}
	tool := &sdk.Tool{
		Name:        ts.name,
		Title:       ts.title,
		Description: fmt.Sprintf("%s\n\n(REST: %s %s, %s.)", ts.description, op.method, op.path, ts.opID),
		InputSchema: schema,
		Annotations: &sdk.ToolAnnotations{
			Title:           ts.title,
			ReadOnlyHint:    ts.readOnly,
			DestructiveHint: ptr(ts.destructive),
			IdempotentHint:  ts.idempotent,
			OpenWorldHint:   ptr(ts.openWorld),
		},
	}
	h := func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		args := map[string]json.RawMessage{}
		if len(req.Params.Arguments) > 0 && string(req.Params.Arguments) != "null" {
			if err := json.Unmarshal(req.Params.Arguments, &args); err != nil {
				return toolError(fmt.Sprintf("the arguments must be a JSON object: %v", err), nil), nil
			}
		}
		r, err := buildRequest(ctx, op, ts, args)
		if err != nil {
			return toolError(err.Error(), nil), nil
		}
		res, err := send(ctx, req.Extra, r)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return toolError(fmt.Sprintf("flowbin could not be reached: %v", err), nil), nil
		}
		defer res.Body.Close()
		return answer(res, ts.text)
	}
	return tool, h, nil
}

// buildRequest turns a tool's arguments into the API request: parameters into the path, the query and headers,
// every other argument into the JSON body.
func buildRequest(ctx context.Context, op *operation, ts toolSpec, args map[string]json.RawMessage) (*http.Request, error) {
	path := op.path
	query := url.Values{}
	header := http.Header{}
	taken := map[string]bool{}
	for _, name := range ts.params {
		p := op.params[name]
		arg := argName(name)
		taken[arg] = true
		raw, ok := args[arg]
		var val string
		switch {
		case ok && string(raw) != "null":
			s, err := scalar(raw)
			if err != nil {
				return nil, fmt.Errorf("argument %s: %w", arg, err)
			}
			val = s
		case ts.defaults[arg] != nil:
			val = fmt.Sprint(ts.defaults[arg])
		default:
			if p["required"] == true {
				return nil, fmt.Errorf("argument %s is required", arg)
			}
			continue
		}
		switch p["in"] {
		case "path":
			path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(val))
		case "query":
			query.Set(name, val)
		case "header":
			header.Set(name, val)
		}
	}
	var body io.Reader
	if op.body != nil {
		fields := map[string]json.RawMessage{}
		for k, v := range args {
			if !taken[k] {
				fields[k] = v
			}
		}
		b, err := json.Marshal(fields)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
		header.Set("Content-Type", "application/json")
	}
	target := path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	r, err := http.NewRequestWithContext(ctx, op.method, target, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		r.Header[k] = v
	}
	r.Header.Set("Accept", "application/json")
	return r, nil
}

// scalar reads a parameter's value: a string, a number or a boolean.
func scalar(raw json.RawMessage) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		return fmt.Sprint(t), nil
	}
	return "", errors.New("must be a string, a number or a boolean")
}

// answer turns the API's answer into the tool's result: its JSON as structured content (with the etag, when
// the answer has one), or a tool error with the envelope's reason, message and pointers.
func answer(res *http.Response, textField string) (*sdk.CallToolResult, error) {
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil {
		return toolError(fmt.Sprintf("reading flowbin's answer: %v", err), nil), nil
	}
	if len(data) > maxAnswer {
		return toolError("flowbin's answer is too large for a tool result", nil), nil
	}
	if res.StatusCode/100 != 2 {
		return apiError(res.StatusCode, data), nil
	}
	structured := map[string]any{}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	switch {
	case res.StatusCode == http.StatusNoContent:
		structured["done"] = true
	case mt == "application/json":
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return toolError(fmt.Sprintf("flowbin's answer is not JSON: %v", err), nil), nil
		}
		if m, ok := v.(map[string]any); ok {
			structured = m
		} else {
			structured["result"] = v
		}
	default:
		field := textField
		if field == "" {
			field = "text"
		}
		structured[field] = string(data)
		structured["media_type"] = mt
	}
	if etag := res.Header.Get("ETag"); etag != "" {
		structured["etag"] = etag
	}
	text, err := json.Marshal(structured)
	if err != nil {
		return nil, err
	}
	content := []sdk.Content{&sdk.TextContent{Text: string(text)}}
	if textField != "" {
		if s, ok := structured[textField].(string); ok {
			content = []sdk.Content{&sdk.TextContent{Text: s}}
		}
	}
	return &sdk.CallToolResult{Content: content, StructuredContent: structured}, nil
}

// envelope is the API's error answer.
type envelope struct {
	Error struct {
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Details []struct {
			Pointer   *string `json:"pointer,omitempty"`
			Parameter string  `json:"parameter,omitempty"`
			Reason    string  `json:"reason"`
			Message   string  `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

// apiError is a tool error made of the API's error envelope: the HTTP status, reason and message, and each
// detail with the JSON Pointer of its place in the arguments (a flow's body fields are the tool's arguments,
// so the pointers name them), so that an agent can fix its input.
func apiError(status int, data []byte) *sdk.CallToolResult {
	var env envelope
	if json.Unmarshal(data, &env) != nil || env.Error.Reason == "" {
		return toolError(fmt.Sprintf("flowbin answered %d %s", status, http.StatusText(status)),
			map[string]any{"http_status": status})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s: %s", status, env.Error.Reason, env.Error.Message)
	for _, d := range env.Error.Details {
		where := d.Parameter
		if d.Pointer != nil {
			where = *d.Pointer
			if where == "" {
				where = "(the whole body)"
			}
		}
		fmt.Fprintf(&b, "\n- %s: %s (%s)", where, d.Message, d.Reason)
	}
	var structured map[string]any
	_ = json.Unmarshal(data, &structured)
	structured["http_status"] = status
	return toolError(b.String(), structured)
}

func toolError(msg string, structured map[string]any) *sdk.CallToolResult {
	if structured == nil {
		structured = map[string]any{"error": map[string]any{"message": msg}}
	}
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: msg}}, StructuredContent: structured}
}

// actionTypes are the action types of the spec (ActionType's enum), sorted.
func (s *spec) actionTypes() ([]string, error) {
	enum, _ := obj(obj(obj(s.doc["components"])["schemas"])["ActionType"])["enum"].([]any)
	if len(enum) == 0 {
		return nil, errors.New("mcp: the API description has no ActionType enum")
	}
	types := make([]string, 0, len(enum))
	for _, e := range enum {
		types = append(types, e.(string))
	}
	sort.Strings(types)
	return types, nil
}
