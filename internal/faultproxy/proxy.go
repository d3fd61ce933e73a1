// Package faultproxy is a TCP proxy for fault tests: put it between flowbin and PostgreSQL, then cut or hang the
// connections to make an outage without touching the shared database server.
package faultproxy

import (
	"net"
	"sync"
	"testing"
)

type mode int

const (
	up      mode = iota
	cut          // connections are closed at once: the database is down
	hanging      // connections are accepted and never answered: the network is a black hole
	frozen       // connections stay open and nothing passes: a network that drops packets without a word
)

// Proxy forwards connections to a target until told otherwise.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	moved *sync.Cond // signalled when the mode changes
	mode  mode
	conns map[net.Conn]bool
}

// Start listens on a free local port and forwards to target. It stops when the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.moved = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// Addr is the address to connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection and closes new ones at once.
func (p *Proxy) Cut() { p.set(cut) }

// Hang closes every connection and leaves new ones unanswered.
func (p *Proxy) Hang() { p.set(hanging) }

// Freeze stops forwarding without closing anything, for open and new connections alike: neither side hears of
// it. Restore resumes them.
func (p *Proxy) Freeze() { p.set(frozen) }

// Restore forwards new connections again (and frozen ones).
func (p *Proxy) Restore() { p.set(up) }

func (p *Proxy) set(m mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	p.moved.Broadcast()
	if m == cut || m == hanging {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = true
	return p.mode == up
}

func (p *Proxy) forget(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *Proxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(client)
	}
}

func (p *Proxy) handle(client net.Conn) {
	p.mu.Lock()
	m := p.mode
	p.mu.Unlock()
	switch m {
	case cut:
		client.Close()
		return
	case hanging:
		p.track(client) // closed by the next mode change, or never answered
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client) || !p.track(server) {
		client.Close()
		server.Close()
		return
	}
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		defer src.Close()
		defer dst.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if !p.waitWhileFrozen() {
					return
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go pipe(server, client)
	go pipe(client, server)
	wg.Wait()
	p.forget(client)
	p.forget(server)
}

// waitWhileFrozen blocks while the proxy is frozen, and reports whether data may pass now.
func (p *Proxy) waitWhileFrozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.mode == frozen {
		p.moved.Wait()
	}
	return p.mode == up
}

func (p *Proxy) close() {
	p.ln.Close()
	p.set(cut)
}
