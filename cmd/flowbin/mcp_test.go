package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPStdio: `flowbin mcp` serves the tools over stdin and stdout, each a request to the server with the
// credential of FLOWBIN_TOKEN.
func TestMCPStdio(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer key-1" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"status":"UNAUTHENTICATED","reason":"AUTHENTICATION_REQUIRED","message":"no"}}`)
			return
		}
		if r.Method != http.MethodGet || r.URL.Path != "/v1.0/flows" || r.URL.Query().Get("page_size") != "3" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"result":[{"id":"f-1","name":"ivr"}],"next_page_token":""}`)
	}))
	defer srv.Close()
	env := map[string]string{"FLOWBIN_SERVER": srv.URL, "FLOWBIN_TOKEN": "key-1"}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"mcp"}, func(k string) string { return env[k] }, inR, outW, io.Discard)
		outW.Close()
	}()
	client := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &sdk.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) < 18 {
		t.Fatalf("tools/list: %v %v", tools, err)
	}
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "list_flows", Arguments: map[string]any{"page_size": 3}})
	if err != nil || res.IsError || !strings.Contains(res.Content[0].(*sdk.TextContent).Text, `"ivr"`) {
		t.Fatalf("list_flows: %+v %v", res, err)
	}
	cs.Close()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		t.Errorf("flowbin mcp: %v", err)
	}
}

func TestMCPStdioNeedsCredentials(t *testing.T) {
	err := run(context.Background(), []string{"mcp", "--server", "http://127.0.0.1:1"}, func(string) string { return "" },
		strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("got %v, want a usage error about credentials", err)
	}
}
