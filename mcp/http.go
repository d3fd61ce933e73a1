package mcp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// peerHeader carries the MCP caller's address from Handler to its tools, so that the API requests they make come
// from the caller's address (login limits, logs). Handler sets it on every request, overwriting whatever the
// client sent.
const peerHeader = "X-Flowbin-Mcp-Peer"

// HandlerConfig configures Handler.
type HandlerConfig struct {
	// Version is the server's version, told to clients.
	Version string
	// MaxBodyBytes bounds an MCP request's body. The API's own limit applies to the request each tool makes.
	MaxBodyBytes int64
}

// Handler serves MCP over Streamable HTTP. Every tool call is a request to api, flowbin's own HTTP handler, in
// process, with the credential of the MCP request that carries the call (Authorization: Bearer, or VoIPbin's
// ?token= and ?accesskey=) and from its client address: authentication, tenancy, body limits, deadlines and
// validation are the REST route's. Without a credential a client can connect and list the tools, but every tool
// that reaches the API is refused, as the API refuses it.
func Handler(api http.Handler, cfg HandlerConfig) (http.Handler, error) {
	srv, err := New(inProcess(api), cfg.Version)
	if err != nil {
		return nil, err
	}
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, &sdk.StreamableHTTPOptions{
		// Stateless: each request is served on its own, with no session kept in this process. Any instance behind a
		// load balancer answers any request (no state that must be shared lives in one process's memory), and
		// connections without a credential cannot pile up sessions. Every tool is one request to the API, so no
		// tool needs a session; what is lost is only what flowbin does not offer (server-to-client requests, the
		// standalone GET stream).
		Stateless:           true,
		MaxRequestBodyBytes: cfg.MaxBodyBytes,
		// The SDK refuses requests on a loopback address whose Host is not a loopback name, against DNS
		// rebinding. That would refuse every request through a reverse proxy on the same machine, the usual
		// production set-up; and rebinding gains nothing here: every tool that reaches data needs the caller's
		// own credential in the request (no cookies, no ambient authority), as the API does.
		DisableLocalhostProtection: true,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(r.Context())
		q := r.URL.Query()
		if r.Header.Get("Authorization") == "" {
			for _, name := range []string{"token", "accesskey"} {
				if v := q.Get(name); v != "" {
					r.Header.Set("Authorization", "Bearer "+v)
					break
				}
			}
		}
		r.Header.Set(peerHeader, r.RemoteAddr)
		h.ServeHTTP(w, r)
	}), nil
}

// inProcess sends tools' requests through the server's own handler.
func inProcess(api http.Handler) Sender {
	return func(ctx context.Context, extra *sdk.RequestExtra, r *http.Request) (*http.Response, error) {
		r = r.WithContext(ctx)
		r.RemoteAddr = "127.0.0.1:0"
		r.Host = "localhost"
		if extra != nil && extra.Header != nil {
			if a := extra.Header.Get("Authorization"); a != "" {
				r.Header.Set("Authorization", a)
			}
			if p := extra.Header.Get(peerHeader); p != "" {
				r.RemoteAddr = p
			}
			// With the peer's address, X-Forwarded-For makes the same client address as on the REST route, by the
			// server's own rule of trusted proxies.
			for _, name := range []string{"X-Request-Id", "X-Forwarded-For"} {
				if v := extra.Header.Values(name); len(v) > 0 {
					r.Header[name] = v
				}
			}
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, r)
		return rec.Result(), nil
	}
}

// Remote sends tools' requests over HTTP to a flowbin server (`flowbin mcp`), with one credential.
func Remote(server, token string, client *http.Client) Sender {
	server = strings.TrimRight(server, "/")
	return func(ctx context.Context, _ *sdk.RequestExtra, r *http.Request) (*http.Response, error) {
		out, err := http.NewRequestWithContext(ctx, r.Method, server+r.URL.RequestURI(), r.Body)
		if err != nil {
			return nil, err
		}
		out.Header = r.Header.Clone()
		if token != "" {
			out.Header.Set("Authorization", "Bearer "+token)
		}
		return client.Do(out)
	}
}
