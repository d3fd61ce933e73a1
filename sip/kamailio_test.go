package sip_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/diago"
	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// instance is one flowbin (API server and SIP runner) of several on one PostgreSQL database.
type instance struct {
	srv    *httptest.Server
	runner *sip.Runner
	ledger *memLedger
}

func startInstance(t *testing.T, dbURL string, dir *memDirectory, token *string) *instance {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: dbURL, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, srv, _ := serveFlowbin(t, st)
	in := &instance{srv: srv, ledger: newMemLedger()}
	in.runner, err = sip.New(sip.Config{
		ListenAddr: "127.0.0.1:0", Directory: dir, Ledger: in.ledger, Speaker: toneSpeaker{}, Log: quietLog(t),
		Flows: &sip.HTTPFlows{BaseURL: in.srv.URL, Client: &http.Client{Timeout: 10 * time.Second},
			Credential: func(uuid.UUID) (string, error) { return *token, nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.runner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = in.runner.Shutdown(ctx)
	})
	return in
}

func (in *instance) calls() int {
	in.ledger.mu.Lock()
	defer in.ledger.mu.Unlock()
	return len(in.ledger.callOrder)
}

func TestKamailioSpreadsCallsAndSurvivesAnInstance(t *testing.T) {
	needTools(t, "kamailio")
	dbURL := storetest.NewPostgresDatabase(t)
	dir := &memDirectory{routes: map[string]sip.Route{}}
	var token string
	a := startInstance(t, dbURL, dir, &token)
	b := startInstance(t, dbURL, dir, &token)

	// alice, her flow, through instance a: instance b reads the same database.
	st, err := store.Open(context.Background(), store.Config{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pw, _ := auth.NewPasswords(4)
	hash, _ := pw.Hash("pw-alice-1234")
	u, err := st.CreateUser(context.Background(), "alice-co", "alice", hash)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: a.srv, client: &http.Client{Timeout: 10 * time.Second}, dir: dir, customerID: u.CustomerID}
	var login struct{ Token string }
	h.do("POST", "/auth/login", map[string]string{"username": "alice", "password": "pw-alice-1234"}, http.StatusOK, &login)
	token, h.token = login.Token, login.Token
	h.flowFor("+15550020000",
		map[string]any{"type": "answer"},
		map[string]any{"type": "talk", "option": map[string]any{"text": "Hello."}},
		map[string]any{"type": "hangup"})

	// Kamailio, as this test's own process on a free port, loopback only.
	kdir := t.TempDir()
	list := filepath.Join(kdir, "dispatcher.list")
	entries := "1 sip:" + a.runner.Addr().String() + " 0 0\n1 sip:" + b.runner.Addr().String() + " 0 0\n"
	if err := os.WriteFile(list, []byte(entries), 0o600); err != nil {
		t.Fatal(err)
	}
	kport := freeUDPPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	var klog lockedBuffer
	cmd := exec.CommandContext(ctx, "kamailio", "-f", "../deploy/kamailio/kamailio.cfg", "-DD", "-E",
		"-L", "/usr/lib/x86_64-linux-gnu/kamailio/modules/", "-Y", kdir, "-w", kdir,
		"-A", `DISPATCHER_LIST="`+list+`"`, "-A", "LISTEN=udp:127.0.0.1:"+itoa(kport), "-A", "FR_TIMER=1000")
	cmd.Stdout, cmd.Stderr = &klog, &klog
	// Kamailio's children end with it on SIGTERM (a SIGKILL would leave them holding the output open).
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })
	deadline := time.Now().Add(10 * time.Second)
	for !rawOptions(t, "127.0.0.1:"+itoa(kport)) {
		if time.Now().After(deadline) {
			t.Fatalf("kamailio does not answer OPTIONS:\n%s", lastLines(klog.String(), 30))
		}
	}

	ph := newPhone(t)
	call := func() {
		t.Helper()
		ictx, icancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer icancel()
		d, _, err := ph.dg.Invite(ictx, sipgosip.Uri{Scheme: "sip", User: "+15550020000", Host: "127.0.0.1", Port: kport}, diago.InviteOptions{})
		for try := 0; err != nil && strings.Contains(err.Error(), "address already in use") && try < 3; try++ {
			// The phone's port, free when it was picked, was taken by a parallel test before the phone bound it: a
			// new phone on another port (the call never left, so kamailio and the instances saw nothing).
			ph = newPhone(t)
			d, _, err = ph.dg.Invite(ictx, sipgosip.Uri{Scheme: "sip", User: "+15550020000", Host: "127.0.0.1", Port: kport}, diago.InviteOptions{})
		}
		if err != nil {
			t.Fatalf("a call through kamailio: %v\n%s", err, lastLines(klog.String(), 20))
		}
		select {
		case <-d.Context().Done(): // the flow hung up: the BYE came back through kamailio
		case <-time.After(10 * time.Second):
			t.Fatal("the call through kamailio did not end")
		}
	}
	call()
	call()
	if a.calls() != 1 || b.calls() != 1 {
		t.Fatalf("calls spread: a %d, b %d; want 1 and 1", a.calls(), b.calls())
	}

	// Instance a goes away; new calls reach b.
	sctx, scancel := context.WithTimeout(context.Background(), time.Second)
	_ = a.runner.Shutdown(sctx)
	scancel()
	for range 3 {
		call()
	}
	if a.calls() != 1 || b.calls() != 4 {
		t.Fatalf("after instance a went away: a %d, b %d; want 1 and 4", a.calls(), b.calls())
	}
	for _, id := range b.ledger.callOrder {
		bh := &harness{t: t, srv: b.srv, client: h.client, token: token, ledger: b.ledger}
		if af := bh.ended(id); af.EndReason != "hangup" {
			t.Fatalf("call %s: end_reason %q", id, af.EndReason)
		}
	}
}

// rawOptions sends an OPTIONS and reports whether anything answered 200.
func rawOptions(t *testing.T, addr string) bool {
	t.Helper()
	return rawRequest(t, addr, "OPTIONS", "", "", 500*time.Millisecond) == 200
}

// lockedBuffer is a buffer a process writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
