package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpConfig is the README's MCP client configuration.
type mcpConfig struct {
	MCPServers map[string]struct {
		Type    string            `json:"type"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Command string            `json:"command"`
		Args    []string          `json:"args"`
		Env     map[string]string `json:"env"`
	} `json:"mcpServers"`
}

// TestREADMEMCP connects to a flowbin server with the README's two MCP client configurations, as they are written
// (the README's address and access key replaced by the test server's), and calls a tool with each.
func TestREADMEMCP(t *testing.T) {
	blocks := readmeBlocks(t)
	config := func(info string) mcpConfig {
		t.Helper()
		bs := blocksOf(blocks, info)
		if len(bs) != 1 {
			t.Fatalf("the README has %d %q blocks, want 1", len(bs), info)
		}
		var c mcpConfig
		if err := json.Unmarshal([]byte(bs[0].text), &c); err != nil {
			t.Fatalf("README.md:%d: %v", bs[0].line, err)
		}
		if _, ok := c.MCPServers["flowbin"]; !ok {
			t.Fatalf("README.md:%d: no mcpServers.flowbin", bs[0].line)
		}
		return c
	}
	httpCfg, stdioCfg := config("json mcp-http").MCPServers["flowbin"], config("json mcp-stdio").MCPServers["flowbin"]

	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "readme-mcp"})
	token := login(t, s.url, "admin", "readme-mcp")
	ours := func(u string) string { return strings.Replace(u, readmeURL, s.url, 1) }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	listFlows := func(cs *sdk.ClientSession) {
		t.Helper()
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "list_flows", Arguments: map[string]any{}})
		if err != nil || res.IsError {
			t.Fatalf("list_flows: %+v %v", res, err)
		}
	}

	// Streamable HTTP: the URL and the headers, with ${FLOWBIN_TOKEN} expanded as clients do.
	if httpCfg.Type != "http" || !strings.HasPrefix(httpCfg.URL, readmeURL) {
		t.Fatalf("the HTTP configuration: %+v", httpCfg)
	}
	u, err := url.Parse(ours(httpCfg.URL))
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{}
	for k, v := range httpCfg.Headers {
		hdr[k] = os.Expand(v, func(name string) string { return map[string]string{"FLOWBIN_TOKEN": token}[name] })
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "readme", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: u.String(), DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: headers(hdr)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	listFlows(cs)
	cs.Close()

	// stdio: the command and its arguments, with the configuration's environment.
	if stdioCfg.Command != "flowbin" || len(stdioCfg.Args) == 0 {
		t.Fatalf("the stdio configuration: %+v", stdioCfg)
	}
	env := map[string]string{}
	for k, v := range stdioCfg.Env {
		env[k] = v
	}
	if env["FLOWBIN_SERVER"] != readmeURL || env["FLOWBIN_TOKEN"] == "" {
		t.Fatalf("the stdio configuration's env: %v", env)
	}
	env["FLOWBIN_SERVER"], env["FLOWBIN_TOKEN"] = ours(env["FLOWBIN_SERVER"]), token
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, stdioCfg.Args, getenv(env), inR, outW, io.Discard)
		outW.Close()
	}()
	cs, err = client.Connect(ctx, &sdk.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	listFlows(cs)
	cs.Close()
	if err := <-done; err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) {
		t.Errorf("flowbin mcp ended with %v", err)
	}
}

// headers is a transport that adds headers to every request.
type headers map[string]string

func (h headers) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}
