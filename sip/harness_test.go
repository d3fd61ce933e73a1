package sip_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo"
	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/internal/apitest"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/sip"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

var contract = apitest.MustLoad()

// harness is a flowbin server on a real store, a SIP runner driving its activeflows over HTTP, and an
// in-process diago phone to call it with.
type harness struct {
	t          *testing.T
	srv        *httptest.Server
	client     *http.Client
	token      string
	customerID uuid.UUID
	ledger     *memLedger
	dir        *memDirectory
	runner     *sip.Runner
	cfg        sip.Config
	phone      *phone
	recDir     string
}

type harnessOption func(*sip.Config)

// serveFlowbin runs flowbin's API over st on a test HTTP server, with its change listener, as `flowbin serve` does;
// pw hashes the passwords of the users a test creates.
func serveFlowbin(t *testing.T, st *store.Store) (s *server.Server, srv *httptest.Server, pw *auth.Passwords) {
	t.Helper()
	tokens, err := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if pw, err = auth.NewPasswords(4); err != nil {
		t.Fatal(err)
	}
	s, err = server.New(server.Config{LoginAttemptsPerAddress: 1000, LoginAttemptsPerUser: 1000}, st, tokens, pw,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.WatchChanges(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	srv = httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv, pw
}

func newHarness(t *testing.T, b storetest.Backend, opts ...harnessOption) *harness {
	t.Helper()
	st := storetest.Open(t, b)
	_, srv, pw := serveFlowbin(t, st)
	h := &harness{t: t, srv: srv, ledger: newMemLedger(), dir: &memDirectory{routes: map[string]sip.Route{}}, recDir: t.TempDir()}
	h.client = &http.Client{Transport: &apitest.Transport{Contract: contract, T: t}, Timeout: 30 * time.Second}
	hash, err := pw.Hash("pw-alice-1234")
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(context.Background(), "alice-co", "alice", hash)
	if err != nil {
		t.Fatal(err)
	}
	h.customerID = u.CustomerID
	var login struct{ Token string }
	h.do("POST", "/auth/login", map[string]string{"username": "alice", "password": "pw-alice-1234"}, http.StatusOK, &login)
	h.token = login.Token

	h.cfg = sip.Config{
		ListenAddr: "127.0.0.1:0",
		Directory:  h.dir,
		Ledger:     h.ledger,
		Flows: &sip.HTTPFlows{BaseURL: srv.URL, Client: h.client,
			Credential: func(uuid.UUID) (string, error) { return h.token, nil }},
		Speaker:      toneSpeaker{},
		RecordingDir: h.recDir,
		Log:          quietLog(t),
	}
	for _, o := range opts {
		o(&h.cfg)
	}
	h.runner, err = sip.New(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.runner.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.runner.Shutdown(ctx)
	})
	h.phone = newPhone(t)
	return h
}

func quietLog(t *testing.T) *slog.Logger {
	if os.Getenv("FLOWBIN_TEST_SIP_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// do makes an API request as alice and decodes the answer.
func (h *harness) do(method, path string, body any, want int, out any) {
	h.t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		h.t.Fatalf("%s %s: got %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatal(err)
		}
	}
}

// flowFor creates a flow of the actions and routes the number to it.
func (h *harness) flowFor(number string, actions ...map[string]any) uuid.UUID {
	h.t.Helper()
	var f struct{ ID uuid.UUID }
	h.do("POST", "/v1.0/flows", map[string]any{"name": "ivr " + number, "actions": actions}, http.StatusOK, &f)
	h.dir.set(number, sip.Route{CustomerID: h.customerID, FlowID: f.ID})
	return f.ID
}

type executed struct {
	ID       uuid.UUID       `json:"id"`
	Type     string          `json:"type"`
	Option   json.RawMessage `json:"option"`
	Step     int             `json:"step"`
	Decision *struct {
		Result   string    `json:"result"`
		TargetID uuid.UUID `json:"target_id"`
	} `json:"decision"`
}

type activeflow struct {
	ID              uuid.UUID         `json:"id"`
	Status          string            `json:"status"`
	EndReason       string            `json:"end_reason"`
	ReferenceType   string            `json:"reference_type"`
	ReferenceID     uuid.UUID         `json:"reference_id"`
	ExecutedActions []executed        `json:"executed_actions"`
	Variables       map[string]string `json:"variables"`
}

// types lists the types of the executed actions, in order.
func (a activeflow) types() string {
	var s []string
	for _, x := range a.ExecutedActions {
		s = append(s, x.Type)
	}
	return strings.Join(s, ",")
}

// ended waits until the call's activeflow has ended and answers it.
func (h *harness) ended(callID uuid.UUID) activeflow {
	h.t.Helper()
	var af activeflow
	waitFor(h.t, 20*time.Second, "the call's activeflow to end", func() bool {
		c, ok := h.ledger.call(callID)
		if !ok || c.ActiveflowID == uuid.Nil {
			return false
		}
		h.do("GET", "/v1.0/activeflows/"+c.ActiveflowID.String(), nil, http.StatusOK, &af)
		return af.Status == "ended"
	})
	return af
}

// hungUp waits until the call record says hangup and answers it.
func (h *harness) hungUp(callID uuid.UUID) sip.Call {
	h.t.Helper()
	var c sip.Call
	waitFor(h.t, 20*time.Second, "the call's hangup", func() bool {
		var ok bool
		c, ok = h.ledger.call(callID)
		return ok && c.Status == sip.StatusHangup
	})
	return c
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// memDirectory routes numbers to flows.
type memDirectory struct {
	mu     sync.Mutex
	routes map[string]sip.Route
	noFlow map[string]bool
}

func (d *memDirectory) set(number string, r sip.Route) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.routes[number] = r
}

func (d *memDirectory) Route(_ context.Context, user string) (sip.Route, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.noFlow[user] {
		return sip.Route{}, sip.ErrNoFlow
	}
	r, ok := d.routes[user]
	if !ok {
		return sip.Route{}, sip.ErrUnknownNumber
	}
	return r, nil
}

// memLedger keeps the records and the order of what happened to them.
type memLedger struct {
	mu         sync.Mutex
	calls      map[uuid.UUID]sip.Call
	recordings map[uuid.UUID]sip.Recording
	log        []string
	callOrder  []uuid.UUID
}

func newMemLedger() *memLedger {
	return &memLedger{calls: map[uuid.UUID]sip.Call{}, recordings: map[uuid.UUID]sip.Recording{}}
}

func (l *memLedger) CreateCall(_ context.Context, c *sip.Call) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls[c.ID] = *c
	l.callOrder = append(l.callOrder, c.ID)
	l.log = append(l.log, c.ID.String()+" call_created "+c.Status)
	return nil
}

func (l *memLedger) UpdateCall(_ context.Context, c *sip.Call) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.calls[c.ID]
	l.calls[c.ID] = *c
	if prev.Status != c.Status {
		l.log = append(l.log, c.ID.String()+" call_"+c.Status)
	}
	return nil
}

func (l *memLedger) CreateRecording(_ context.Context, r *sip.Recording) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recordings[r.ID] = *r
	l.log = append(l.log, r.CallID.String()+" recording_started")
	return nil
}

func (l *memLedger) FinishRecording(_ context.Context, r *sip.Recording) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recordings[r.ID] = *r
	l.log = append(l.log, r.CallID.String()+" recording_finished")
	return nil
}

func (l *memLedger) call(id uuid.UUID) (sip.Call, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.calls[id]
	return c, ok
}

// lastCall answers the call created last (waiting for one).
func (l *memLedger) waitCall(t *testing.T, n int) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	waitFor(t, 10*time.Second, fmt.Sprintf("call record %d", n), func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.callOrder) < n {
			return false
		}
		id = l.callOrder[n-1]
		return true
	})
	return id
}

// events answers what happened to a call, in order.
func (l *memLedger) events(id uuid.UUID) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.log {
		if rest, ok := strings.CutPrefix(e, id.String()+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// toneSpeaker is a text-to-speech stand-in that needs no package: a tone whose pitch follows the text, 40 ms a
// character.
type toneSpeaker struct{}

func (toneSpeaker) Speak(_ context.Context, text, _, _ string) ([]int16, error) {
	freq := 300.0 + float64(len(text)%20)*50
	n := 8 * 40 * len(text)
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return out, nil
}

// phone is an in-process SIP phone (diago) that calls the runner and answers its calls.
type phone struct {
	t    *testing.T
	dg   *diago.Diago
	port int
	// answered receives each call the phone answers (outbound tests).
	answered chan *phoneCall
}

type phoneCall struct {
	d   *diago.DialogServerSession
	med *diago.DialogMedia
	got *received
}

func newPhone(t *testing.T) *phone { return newPhoneOn(t, "udp") }

// newPhoneOn is a phone whose SIP goes over network ("udp" or "tcp"), on a port of its own.
func newPhoneOn(t *testing.T, network string) *phone {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("phone"))
	if err != nil {
		t.Fatal(err)
	}
	var port int
	if network == "tcp" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	} else {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
	}
	p := &phone{t: t, port: port, answered: make(chan *phoneCall, 4)}
	p.dg = diago.NewDiago(ua, diago.WithLogger(quietLog(t)),
		diago.WithTransport(diago.Transport{Transport: network, BindHost: "127.0.0.1", BindPort: port}))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ua.Close() })
	err = p.dg.ServeBackground(ctx, func(d *diago.DialogServerSession) {
		med, err := d.Answer(diago.AnswerOptions{})
		if err != nil {
			return
		}
		pcall := &phoneCall{d: d, med: med, got: listen(med)}
		p.answered <- pcall
		<-d.Context().Done()
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// call dials the runner's number.
func (p *phone) call(h *harness, number string) (*diago.DialogClientSession, *diago.DialogMedia) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := h.runner.Addr()
	d, med, err := p.dg.Invite(ctx, sipgosip.Uri{Scheme: "sip", User: number, Host: a.Addr().String(), Port: int(a.Port())}, diago.InviteOptions{})
	if err != nil {
		p.t.Fatalf("call %s: %v", number, err)
	}
	p.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = d.Hangup(ctx)
	})
	return d, med
}

// received counts the audio a phone hears.
type received struct {
	mu      sync.Mutex
	packets int
	pcm     []int16
	first   chan struct{}
}

func listen(med *diago.DialogMedia) *received {
	r := &received{first: make(chan struct{})}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, err := med.RTPPacketReader.Read(buf)
			if err != nil {
				return
			}
			pt := med.RTPPacketReader.PacketHeader.PayloadType
			if pt != 0 && pt != 8 {
				continue
			}
			r.mu.Lock()
			if r.packets == 0 {
				close(r.first)
			}
			r.packets++
			for _, x := range buf[:n] {
				r.pcm = append(r.pcm, ulawToPCM(x))
			}
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packets
}

// ulawToPCM decodes one μ-law byte (G.711), to check what the phone heard without the runner's code.
func ulawToPCM(u byte) int16 {
	u = ^u
	sign := u & 0x80
	exp := (u >> 4) & 0x07
	mant := u & 0x0f
	s := (int(mant)<<3 + 0x84) << exp
	s -= 0x84
	if sign != 0 {
		return int16(-s)
	}
	return int16(s)
}
