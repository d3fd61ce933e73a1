// Package outbound is the one HTTP client for every request flowbin makes on a customer's behalf: webhook_send,
// fetch and webhook events. A customer chooses the URLs, so the client must not become a way into the network
// flowbin runs in: it refuses loopback, private, link-local, multicast and unspecified addresses unless the
// operator allows them, checked on the address it actually dials (so a name that resolves to a public address
// once and a private one the next time gains nothing), follows redirects only to addresses it would dial anyway,
// and bounds the time of a request and the size of what it reads.
package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultTimeout        = 5 * time.Second
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxHeaderBytes = 64 << 10
	DefaultReserve        = time.Second
	maxRedirects          = 5
)

// ErrRefused is a request to an address that the guard refuses.
var ErrRefused = errors.New("outbound: address refused")

// ErrTooLarge is an answer larger than the client reads.
var ErrTooLarge = errors.New("outbound: answer too large")

// ErrBudget is a request cut short (or never sent) because the API request it serves must keep Reserve of its
// deadline to finish: to end the execution and write it.
var ErrBudget = errors.New("outbound: out of the API request's time budget")

// Allow is what an operator lets through the guard: networks, and host:port pairs.
type Allow struct {
	Prefixes []netip.Prefix
	// HostPorts are "host:port" pairs, host a name or an address, matched against the URL's host and port.
	HostPorts []string
}

// ParseAllow reads FLOWBIN_OUTBOUND_ALLOW: comma-separated CIDRs (or single addresses) and host:port pairs.
func ParseAllow(s string) (Allow, error) {
	var a Allow
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
		case strings.Contains(item, "/"):
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return Allow{}, fmt.Errorf("outbound: %q is not a CIDR: %w", item, err)
			}
			a.Prefixes = append(a.Prefixes, p.Masked())
		default:
			if addr, err := netip.ParseAddr(strings.Trim(item, "[]")); err == nil {
				a.Prefixes = append(a.Prefixes, netip.PrefixFrom(addr, addr.BitLen()))
				continue
			}
			host, port, err := net.SplitHostPort(item)
			if err != nil || host == "" {
				return Allow{}, fmt.Errorf("outbound: %q is neither a CIDR nor host:port", item)
			}
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return Allow{}, fmt.Errorf("outbound: %q has no valid port", item)
			}
			a.HostPorts = append(a.HostPorts, strings.ToLower(net.JoinHostPort(host, port)))
		}
	}
	return a, nil
}

// Config configures a Client. Zero values take the defaults.
type Config struct {
	Allow   Allow
	Timeout time.Duration
	// MaxBodyBytes bounds the answer read, its headers counted in (default 1 MiB); MaxHeaderBytes bounds its
	// headers alone (default 64 KiB).
	MaxBodyBytes   int64
	MaxHeaderBytes int64
	// Reserve is the part of a caller's deadline that a request leaves unused (default 1s): a request made while
	// serving an API request ends that much before the API request's deadline, so that the execution can end
	// (fetch_failed, a failed webhook decision) and be written instead of the API request failing.
	Reserve time.Duration
	// Resolver resolves names; nil is the system's.
	Resolver *net.Resolver
}

// Client makes guarded requests.
type Client struct {
	cfg  Config
	http *http.Client
}

// New makes a client.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.Reserve <= 0 {
		cfg.Reserve = DefaultReserve
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	c := &Client{cfg: cfg}
	transport := &http.Transport{
		DialContext:            c.dial,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        30 * time.Second,
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: cfg.MaxHeaderBytes,
		Proxy:                  nil, // a proxy would dial for us, past the guard
	}
	c.http = &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("outbound: more than %d redirects", maxRedirects)
			}
			return nil // the next dial is guarded like the first
		},
	}
	return c
}

// Allowed reports whether the guard lets the client dial addr for a request to hostport (the URL's host:port).
func (c *Client) Allowed(hostport string, addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range c.cfg.Allow.Prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	for _, hp := range c.cfg.Allow.HostPorts {
		if hp == strings.ToLower(hostport) {
			return true
		}
	}
	return Public(addr)
}

// Public reports whether an address is one the guard lets through by default: not loopback, private, link-local,
// multicast, unspecified, or one of the other special-purpose ranges.
func Public(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() {
		return false
	}
	for _, p := range special {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// special are further ranges that are not the public internet (RFC 6890 and successors).
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32", "64:ff9b::/96", "64:ff9b:1::/48",
		"100::/64", "2001:db8::/32", "2002::/16"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// dial resolves the host itself and dials only addresses the guard allows, so that what was checked is what is
// dialed.
func (c *Client) dial(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ips, err := c.cfg.Resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("outbound: resolve %s: %w", host, err)
		}
		addrs = ips
	}
	var refused []string
	var d net.Dialer
	var lastErr error
	for _, a := range addrs {
		if !c.Allowed(hostport, a) {
			refused = append(refused, a.String())
			continue
		}
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return nil, fmt.Errorf("%w: %s is %s, which is not a public address (FLOWBIN_OUTBOUND_ALLOW lets it through)",
		ErrRefused, host, strings.Join(refused, ", "))
}

// Request is one outbound request.
type Request struct {
	Method      string
	URL         string
	ContentType string
	Header      http.Header
	Body        []byte
}

// Response is what came back, its body read up to the bound.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request and reads its answer, within the client's time and size bounds. Only http and https URLs
// are sent. When ctx has a deadline (an API request's), the request ends Reserve before it, or is not sent when
// less than that is left: ErrBudget.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	if !strings.HasPrefix(r.URL, "http://") && !strings.HasPrefix(r.URL, "https://") {
		return nil, fmt.Errorf("outbound: %q is not an http(s) URL", r.URL)
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	parent := ctx
	deadline := time.Now().Add(c.cfg.Timeout)
	budgeted := false
	if d, ok := parent.Deadline(); ok && d.Add(-c.cfg.Reserve).Before(deadline) {
		deadline, budgeted = d.Add(-c.cfg.Reserve), true
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%w: less than %s was left, which ending the execution needs", ErrBudget, c.cfg.Reserve)
		}
	}
	ctx, cancel := context.WithDeadline(parent, deadline)
	defer cancel()
	// cut tells an error of the budget from any other: the budget's deadline passed, the caller's did not.
	cut := func(err error) error {
		if budgeted && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w: cut %s before the API request's deadline, after %s", ErrBudget, c.cfg.Reserve,
				time.Until(deadline.Add(c.cfg.Reserve)).Round(time.Millisecond))
		}
		return err
	}
	var body io.Reader
	if r.Body != nil {
		body = strings.NewReader(string(r.Body))
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, body)
	if err != nil {
		return nil, fmt.Errorf("outbound: %w", err)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	req.Header.Set("User-Agent", "flowbin")
	res, err := c.http.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "server response headers exceeded") {
			return nil, fmt.Errorf("%w: headers of more than %d bytes", ErrTooLarge, c.cfg.MaxHeaderBytes)
		}
		return nil, cut(err)
	}
	defer res.Body.Close()
	// The headers count into the answer's bound: what is left of it is what the body may take.
	room := c.cfg.MaxBodyBytes - headerBytes(res.Header)
	if room < 0 {
		return nil, fmt.Errorf("%w: headers of more than %d bytes", ErrTooLarge, c.cfg.MaxBodyBytes)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, room+1))
	if err != nil {
		return nil, fmt.Errorf("outbound: read the answer: %w", cut(err))
	}
	if int64(len(b)) > room {
		return nil, fmt.Errorf("%w: more than %d bytes with its headers", ErrTooLarge, c.cfg.MaxBodyBytes)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// headerBytes is the size of headers as sent: "Name: value\r\n" for each value.
func headerBytes(h http.Header) int64 {
	var n int64
	for k, vs := range h {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n
}
