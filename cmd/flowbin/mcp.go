package main

import (
	"context"
	"io"
	"net/http"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/flowbin/flowbin/mcp"
)

// mcpLong is the description of `flowbin mcp` in its help.
const mcpLong = `Serves flowbin's MCP tools (flows, validation, simulation, graphs, revisions, activeflows, the action
catalog), resources and prompt over stdio, for desktop AI clients that start a command. Every tool is a request to
the flowbin server of --server (FLOWBIN_SERVER; default http://127.0.0.1:8080) with one credential: --token or
FLOWBIN_TOKEN (an access key suits: login tokens expire), or a login with FLOWBIN_USERNAME (default admin) and
FLOWBIN_PASSWORD. The same tools are served over Streamable HTTP at /mcp on the API port, with the caller's
credential.`

// mcpOptions are the flags of `flowbin mcp`.
type mcpOptions struct {
	server, token string
}

// runMCP is `flowbin mcp`: the MCP server over stdin and stdout, until stdin ends or ctx is done.
func runMCP(ctx context.Context, opts mcpOptions, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	c, err := apiClient(ctx, "mcp", opts.server, opts.token, getenv)
	if err != nil {
		return err
	}
	srv, err := mcp.New(mcp.Remote(c.server, c.token, &http.Client{Timeout: time.Minute}), version())
	if err != nil {
		return err
	}
	return srv.Run(ctx, &sdk.IOTransport{Reader: io.NopCloser(stdin), Writer: nopWriteCloser{stdout}})
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
