// Package faultproxy is a TCP proxy for fault tests: put it between flowbin and PostgreSQL, then cut or hang the
// connections to make an outage without touching the shared database server.
package faultproxy

import (
	"io"
	"net"
	"sync"
	"testing"
)

type mode int

const (
	up      mode = iota
	cut          // connections are closed at once: the database is down
	hanging      // connections are accepted and never answered: the network is a black hole
)

// Proxy forwards connections to a target until told otherwise.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
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

// Restore forwards new connections again.
func (p *Proxy) Restore() { p.set(up) }

func (p *Proxy) set(m mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	if m != up {
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
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	wg.Add(2)
	go pipe(server, client)
	go pipe(client, server)
	wg.Wait()
	p.forget(client)
	p.forget(server)
}

func (p *Proxy) close() {
	p.ln.Close()
	p.set(cut)
}
