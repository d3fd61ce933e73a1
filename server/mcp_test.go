package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/flowbin/flowbin/mcp"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

// The MCP server, driven by the SDK's client over both transports: Streamable HTTP at /mcp (in process, with the
// caller's credential) and stdio (the server of `flowbin mcp`, over HTTP to flowbin).

var mcpTransports = []string{"http", "stdio"}

// headerTransport adds a header to every request.
type headerTransport struct {
	name, value string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return http.DefaultTransport.RoundTrip(r)
}

// mcpSession connects an MCP client with a credential ("" for none) over a transport.
func mcpSession(t *testing.T, e *env, transport, credential string) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	client := sdk.NewClient(&sdk.Implementation{Name: "flowbin-test", Version: "1"}, nil)
	var tr sdk.Transport
	switch transport {
	case "http":
		hc := &http.Client{Timeout: time.Minute}
		if credential != "" {
			hc.Transport = headerTransport{"Authorization", "Bearer " + credential}
		}
		tr = &sdk.StreamableClientTransport{Endpoint: e.srv.URL + "/mcp", HTTPClient: hc, DisableStandaloneSSE: true}
	case "stdio":
		srv, err := mcp.New(mcp.Remote(e.srv.URL, credential, &http.Client{Timeout: time.Minute}), "test")
		if err != nil {
			t.Fatal(err)
		}
		toServerR, toServerW := io.Pipe()
		toClientR, toClientW := io.Pipe()
		go func() { _ = srv.Run(ctx, &sdk.IOTransport{Reader: toServerR, Writer: toClientW}) }()
		tr = &sdk.IOTransport{Reader: toClientR, Writer: toServerW}
	}
	cs, err := client.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// callTool calls a tool and answers its result and structured content.
func callTool(t *testing.T, cs *sdk.ClientSession, name string, args any) (*sdk.CallToolResult, map[string]any) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var m map[string]any
	b, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(b, &m)
	return res, m
}

func resultText(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func wantToolOK(t *testing.T, name string, res *sdk.CallToolResult) {
	t.Helper()
	if res.IsError {
		t.Fatalf("%s: tool error: %s", name, resultText(res))
	}
}

func wantToolError(t *testing.T, name string, res *sdk.CallToolResult, contains ...string) {
	t.Helper()
	if !res.IsError {
		t.Fatalf("%s: want a tool error, got %s", name, resultText(res))
	}
	for _, c := range contains {
		if !strings.Contains(resultText(res), c) {
			t.Errorf("%s: error %q does not say %q", name, resultText(res), c)
		}
	}
}

func TestMCPToolsList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	for _, transport := range mcpTransports {
		t.Run(transport, func(t *testing.T) {
			cs := mcpSession(t, e, transport, e.alice.token)
			res, err := cs.ListTools(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			tools := map[string]*sdk.Tool{}
			for _, tool := range res.Tools {
				tools[tool.Name] = tool
			}
			for _, name := range []string{"list_flows", "get_flow", "create_flow", "update_flow", "delete_flow",
				"validate_flow", "simulate_flow", "simulate_actions", "draw_flow", "list_action_types",
				"describe_action_type", "list_flow_revisions", "get_flow_revision", "restore_flow_revision",
				"list_activeflows", "start_activeflow", "get_activeflow", "stop_activeflow", "get_flow_stats"} {
				if tools[name] == nil {
					t.Errorf("no tool %s", name)
				}
			}
			if len(tools) != 19 {
				t.Errorf("%d tools, want 19", len(tools))
			}
			for name, want := range map[string][2]bool{ // readOnly, destructive
				"get_flow": {true, false}, "validate_flow": {true, false}, "simulate_flow": {true, false},
				"create_flow": {false, false}, "update_flow": {false, true}, "delete_flow": {false, true},
				"stop_activeflow": {false, true}, "start_activeflow": {false, false},
			} {
				a := tools[name].Annotations
				if a == nil || a.ReadOnlyHint != want[0] || a.DestructiveHint == nil || *a.DestructiveHint != want[1] {
					t.Errorf("%s: annotations %+v, want readOnly %v destructive %v", name, a, want[0], want[1])
				}
			}
			if !tools["delete_flow"].Annotations.IdempotentHint || tools["create_flow"].Annotations.IdempotentHint {
				t.Error("delete_flow is idempotent, create_flow is not")
			}
			schema, _ := json.Marshal(tools["update_flow"].InputSchema)
			for _, want := range []string{`"if_match"`, `"actions"`, `"id"`, `"$defs"`, `"ActionOptionTalk"`} {
				if !strings.Contains(string(schema), want) {
					t.Errorf("update_flow's input schema has no %s", want)
				}
			}
			if !strings.Contains(tools["update_flow"].Description, "if_match") ||
				!strings.Contains(tools["simulate_flow"].Description, "does not do") ||
				!strings.Contains(tools["create_flow"].Description, "label") {
				t.Error("the tools' descriptions do not carry flowbin's rules")
			}
		})
	}
}

// TestMCPBuildLoop is an agent's work: validate a flow with a mistake, fix it, simulate it, store it, simulate
// the stored flow, draw it, and update it safely; on both databases, over both transports.
func TestMCPBuildLoop(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		for _, transport := range mcpTransports {
			t.Run(transport, func(t *testing.T) {
				cs := mcpSession(t, e, transport, e.alice.token)
				actions := []map[string]any{
					{"id": "menu", "type": "digits_receive", "option": map[string]any{"duration": 5000, "length": 1}},
					{"type": "tlak", "option": map[string]any{"text": "hello"}},
					{"type": "branch", "option": map[string]any{"target_ids": map[string]any{"1": "sales"}, "default_target_id": "bye"}},
					{"id": "sales", "type": "talk", "option": map[string]any{"text": "sales"}},
					{"id": "bye", "type": "hangup"},
				}
				flowArgs := map[string]any{"name": "ivr " + transport, "actions": actions}

				res, report := callTool(t, cs, "validate_flow", flowArgs)
				wantToolOK(t, "validate_flow", res)
				errs, _ := report["errors"].([]any)
				if report["valid"] != false || len(errs) != 1 || errs[0].(map[string]any)["pointer"] != "/actions/1/type" ||
					!strings.Contains(errs[0].(map[string]any)["message"].(string), `"talk"`) {
					t.Fatalf("validate_flow: %s", resultText(res))
				}
				res, _ = callTool(t, cs, "create_flow", flowArgs)
				wantToolError(t, "create_flow", res, "/actions/1/type", "400")

				actions[1]["type"] = "talk"
				res, report = callTool(t, cs, "validate_flow", flowArgs)
				if report["valid"] != true {
					t.Fatalf("validate_flow after the fix: %s", resultText(res))
				}
				res, sim := callTool(t, cs, "simulate_actions", map[string]any{"actions": actions, "digits": []string{"1"}})
				wantToolOK(t, "simulate_actions", res)
				if !strings.Contains(resultText(res), `"sales"`) || sim["end_reason"] == nil {
					t.Errorf("simulate_actions did not run the sales path: %s", resultText(res))
				}

				res, created := callTool(t, cs, "create_flow", flowArgs)
				wantToolOK(t, "create_flow", res)
				id, _ := created["id"].(string)
				if id == "" || created["etag"] != `"r1"` {
					t.Fatalf("create_flow: %s", resultText(res))
				}
				res, sim = callTool(t, cs, "simulate_flow", map[string]any{"id": id, "digits": []string{"9"}})
				wantToolOK(t, "simulate_flow", res)
				if sim["flow_id"] != id {
					t.Errorf("simulate_flow: %s", resultText(res))
				}
				res, graph := callTool(t, cs, "draw_flow", map[string]any{"id": id})
				wantToolOK(t, "draw_flow", res)
				if g, _ := graph["graph"].(string); !strings.HasPrefix(g, "flowchart") {
					t.Errorf("draw_flow: %s", resultText(res))
				}
				res, _ = callTool(t, cs, "get_flow_stats", map[string]any{"id": id, "since": "2020-01-01T00:00:00Z"})
				wantToolError(t, "get_flow_stats", res, "400") // a window longer than 366 days
				res, stats := callTool(t, cs, "get_flow_stats", map[string]any{"id": id})
				wantToolOK(t, "get_flow_stats", res)
				if stats["flow_id"] != id || stats["executions"] != float64(0) {
					t.Errorf("get_flow_stats: %s", resultText(res))
				}

				flowArgs["id"] = id
				flowArgs["if_match"] = created["etag"]
				flowArgs["detail"] = "with detail"
				res, updated := callTool(t, cs, "update_flow", flowArgs)
				wantToolOK(t, "update_flow", res)
				if updated["etag"] != `"r2"` || updated["detail"] != "with detail" {
					t.Fatalf("update_flow: %s", resultText(res))
				}
				// The etag read before the update is stale now: refused, nothing written.
				flowArgs["detail"] = "lost update"
				res, _ = callTool(t, cs, "update_flow", flowArgs)
				wantToolError(t, "update_flow", res, "412")
				res, got := callTool(t, cs, "get_flow", map[string]any{"id": id})
				if got["detail"] != "with detail" || got["etag"] != `"r2"` {
					t.Errorf("get_flow after a refused update: %s", resultText(res))
				}
				res, revs := callTool(t, cs, "list_flow_revisions", map[string]any{"id": id})
				if list, _ := revs["result"].([]any); len(list) != 2 {
					t.Errorf("list_flow_revisions: %s", resultText(res))
				}
				res, restored := callTool(t, cs, "restore_flow_revision", map[string]any{"id": id, "revision": 1, "if_match": `"r2"`})
				wantToolOK(t, "restore_flow_revision", res)
				if restored["etag"] != `"r3"` || restored["detail"] != "" {
					t.Errorf("restore_flow_revision: %s", resultText(res))
				}

				res, af := callTool(t, cs, "start_activeflow", map[string]any{"flow_id": id})
				wantToolOK(t, "start_activeflow", res)
				afID, _ := af["id"].(string)
				res, af = callTool(t, cs, "get_activeflow", map[string]any{"id": afID})
				if af["status"] != "running" {
					t.Errorf("get_activeflow: %s", resultText(res))
				}
				res, af = callTool(t, cs, "stop_activeflow", map[string]any{"id": afID})
				wantToolOK(t, "stop_activeflow", res)
				if af["status"] != "ended" {
					t.Errorf("stop_activeflow: %s", resultText(res))
				}

				res, _ = callTool(t, cs, "delete_flow", map[string]any{"id": id, "if_match": `"r3"`})
				wantToolOK(t, "delete_flow", res)
				res, _ = callTool(t, cs, "get_flow", map[string]any{"id": id})
				wantToolError(t, "get_flow", res, "404")
			})
		}
	})
}

// TestMCPRefusals: another customer's flow is not found, and without credentials nothing is changed.
func TestMCPRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, map[string]any{"name": "alice's", "actions": []any{map[string]any{"type": "answer"}}})
		for _, transport := range mcpTransports {
			t.Run(transport, func(t *testing.T) {
				bob := mcpSession(t, e, transport, e.bob.token)
				res, _ := callTool(t, bob, "get_flow", map[string]any{"id": f.ID})
				wantToolError(t, "get_flow", res, "404")
				res, _ = callTool(t, bob, "delete_flow", map[string]any{"id": f.ID})
				wantToolError(t, "delete_flow", res, "404")

				anon := mcpSession(t, e, transport, "")
				res, _ = callTool(t, anon, "delete_flow", map[string]any{"id": f.ID})
				wantToolError(t, "delete_flow", res, "401")
				res, _ = callTool(t, anon, "list_flows", map[string]any{})
				wantToolError(t, "list_flows", res, "401")
			})
		}
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusOK)
	})
}

// TestMCPQueryCredential: VoIPbin's ?token= and ?accesskey= forms work on /mcp too.
func TestMCPQueryCredential(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	client := sdk.NewClient(&sdk.Implementation{Name: "flowbin-test", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &sdk.StreamableClientTransport{
		Endpoint: e.srv.URL + "/mcp?token=" + e.alice.token, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, list := callTool(t, cs, "list_flows", map[string]any{"page_size": 5})
	wantToolOK(t, "list_flows", res)
	if _, ok := list["result"]; !ok {
		t.Errorf("list_flows: %s", resultText(res))
	}
}

func TestMCPCatalogResourcesPrompt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	cs := mcpSession(t, e, "http", "")
	ctx := context.Background()
	res, desc := callTool(t, cs, "describe_action_type", map[string]any{"type": "talk"})
	wantToolOK(t, "describe_action_type", res)
	if !strings.Contains(resultText(res), `"text"`) || desc["control"] != false {
		t.Errorf("describe_action_type: %s", resultText(res))
	}
	res, list := callTool(t, cs, "list_action_types", map[string]any{})
	if types, _ := list["action_types"].([]any); len(types) < 40 {
		t.Errorf("list_action_types: %s", resultText(res))
	}
	res, _ = callTool(t, cs, "describe_action_type", map[string]any{"type": "tlak"})
	wantToolError(t, "describe_action_type", res, "unknown action type")

	rl, err := cs.ListResources(ctx, nil)
	if err != nil || len(rl.Resources) != 2 {
		t.Fatalf("resources: %v %v", rl, err)
	}
	for _, r := range rl.Resources {
		rr, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: r.URI})
		if err != nil || len(rr.Contents) != 1 || len(rr.Contents[0].Text) < 1000 {
			t.Errorf("read %s: %v", r.URI, err)
		}
	}
	p, err := cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "build_ivr", Arguments: map[string]string{"description": "press 1 for sales"}})
	if err != nil || len(p.Messages) != 1 || !strings.Contains(p.Messages[0].Content.(*sdk.TextContent).Text, "press 1 for sales") {
		t.Errorf("prompt: %v %v", p, err)
	}
}

// TestMCPBodyLimit: a tool's request is bounded like the REST route's: a flow larger than the body limit is
// refused with 413, though the MCP request that carries it is allowed a little more for its envelope.
func TestMCPBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, func(c *server.Config) { c.MaxBodyBytes = 4096 })
	cs := mcpSession(t, e, "http", e.alice.token)
	var actions []any
	for range 300 { // about 5,400 bytes
		actions = append(actions, map[string]any{"type": "answer"})
	}
	big := map[string]any{"name": "big", "actions": actions}
	res, _ := callTool(t, cs, "create_flow", big)
	wantToolError(t, "create_flow", res, "413")
	res, list := callTool(t, cs, "list_flows", map[string]any{})
	if l, _ := list["result"].([]any); res.IsError || len(l) != 0 {
		t.Errorf("list_flows after a refused create: %s", resultText(res))
	}
}

// TestMCPCORS: with CORS on, MCP clients in browsers may send and read the session headers of /mcp.
func TestMCPCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, func(c *server.Config) { c.CORSOrigins = []string{"https://agent.example"} })
	req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/mcp", nil)
	req.Header.Set("Origin", "https://agent.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,mcp-session-id,mcp-protocol-version")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	allowed := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
	if res.StatusCode != http.StatusNoContent || !strings.Contains(allowed, "mcp-session-id") || !strings.Contains(allowed, "mcp-protocol-version") {
		t.Errorf("preflight of /mcp: %d %v", res.StatusCode, res.Header)
	}
}

// hostTransport sends every request with another Host, as a reverse proxy on the same machine does.
type hostTransport struct{ host, token string }

func (h hostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = h.host
	r.Header.Set("Authorization", "Bearer "+h.token)
	return http.DefaultTransport.RoundTrip(r)
}

// TestMCPBehindProxy: /mcp answers a request that reaches a loopback address with the public Host of a reverse
// proxy, as the REST routes do.
func TestMCPBehindProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	client := sdk.NewClient(&sdk.Implementation{Name: "flowbin-test", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &sdk.StreamableClientTransport{
		Endpoint: e.srv.URL + "/mcp", DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: hostTransport{"flowbin.example", e.alice.token}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, _ := callTool(t, cs, "list_flows", map[string]any{})
	wantToolOK(t, "list_flows", res)
}

// TestMCPNeedsNoSession: /mcp keeps no session in the process. A tool call arrives with no initialize before it and
// no Mcp-Session-Id, as it does at an instance behind a load balancer that never saw the client, and is answered;
// no session id is handed out, so none can pile up.
func TestMCPNeedsNoSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_action_types","arguments":{}}}`
	req, _ := http.NewRequest("POST", e.srv.URL+"/mcp", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.alice.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(got), `"talk"`) || strings.Contains(string(got), `"isError":true`) {
		t.Fatalf("a tool call with no session: %d %s", res.StatusCode, got)
	}
	if id := res.Header.Get("Mcp-Session-Id"); id != "" {
		t.Errorf("the answer hands out a session id %q", id)
	}
}
