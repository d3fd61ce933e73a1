package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/internal/apitest"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// contract checks every response of this package's tests against openapi.yaml.
var contract = apitest.MustLoad()

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	// No log of any test may hold a credential that any test was issued.
	if found, lines, creds := leaks.check(); len(found) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d of %d log lines hold one of %d issued credentials:\n%s\n", len(found), lines, creds,
			strings.Join(found[:min(len(found), 20)], "\n"))
		code = 1
	}
	// Every operation of the spec must be exercised by the full suite (not by a -run subset).
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		if missing := contract.Missing(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: operations never exercised by the tests: %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

// testSecret signs the tokens of every test server.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

var (
	passwordsOnce sync.Once
	passwords     *auth.Passwords
)

func testPasswords(t testing.TB) *auth.Passwords {
	passwordsOnce.Do(func() {
		var err error
		if passwords, err = auth.NewPasswords(4); err != nil {
			t.Fatal(err)
		}
	})
	return passwords
}

// env is a running server on a fresh store, with two customers (alice and bob) and a user each.
type env struct {
	t       testing.TB
	backend storetest.Backend
	st      *store.Store
	stCfg   store.Config
	clock   *storetest.Clock
	srv     *httptest.Server
	client  *http.Client
	tokens  *auth.Tokens
	logs    *apitest.LogBuffer
	server  *server.Server

	alice, bob user
}

type user struct {
	name, password, token string
	customerID            string
}

type envOption func(*server.Config)

// strictFields makes unknown fields errors, as they were before field validation had modes: for the tests of bad
// input, which assert that nothing is written.
func strictFields(c *server.Config) { c.FieldValidation = "Strict" }

func newEnv(t testing.TB, b storetest.Backend, opts ...envOption) *env {
	t.Helper()
	clock := storetest.NewClock(time.Now().UTC())
	stCfg := storetest.Migrated(t, b)
	stCfg.Now = clock.Now
	return newEnvOn(t, b, stCfg, clock, opts...)
}

// newEnvOn is newEnv on a given store configuration (such as one that reaches PostgreSQL through a fault proxy).
func newEnvOn(t testing.TB, b storetest.Backend, stCfg store.Config, clock *storetest.Clock, opts ...envOption) *env {
	t.Helper()
	st, err := store.Open(context.Background(), stCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tokens, err := auth.NewTokens(testSecret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{LoginAttemptsPerAddress: 1000, LoginAttemptsPerUser: 1000}
	for _, o := range opts {
		o(&cfg)
	}
	logs := &apitest.LogBuffer{}
	leaks.log(logs)
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := server.New(cfg, st, tokens, testPasswords(t), log)
	if err != nil {
		t.Fatal(err)
	}
	watch(t, s)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	e := &env{
		t: t, backend: b, st: st, stCfg: stCfg, clock: clock, srv: srv, tokens: tokens, logs: logs, server: s,
		client: &http.Client{Transport: &apitest.Transport{Contract: contract, T: t}, Timeout: time.Minute},
	}
	e.alice = e.addUser("alice-co", "alice", "alice-password")
	e.bob = e.addUser("bob-co", "bob", "bob-password")
	return e
}

// watch runs the server's change listener, as flowbin's main does, until the test ends; it waits until the flow
// cache is live, so that every test reads through it.
func watch(t testing.TB, s *server.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.WatchChanges(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	apitest.Eventually(t, 10*time.Second, "the flow cache to go live", s.FlowCacheLive)
}

// addUser creates a user in the store and logs in through the API.
func (e *env) addUser(customer, name, password string) user {
	e.t.Helper()
	hash, err := testPasswords(e.t).Hash(password)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.st.CreateUser(context.Background(), customer, name, hash)
	if err != nil {
		e.t.Fatal(err)
	}
	res := e.do("POST", "/auth/login", map[string]string{"username": name, "password": password})
	res.wantStatus(http.StatusOK)
	var login struct{ Token string }
	res.decode(&login)
	return user{name: name, password: password, token: login.Token, customerID: u.CustomerID.String()}
}

// response is an answer, read whole.
type response struct {
	t      testing.TB
	status int
	header http.Header
	body   []byte
}

func (r *response) wantStatus(want int) *response {
	r.t.Helper()
	if r.status != want {
		r.t.Fatalf("status: got %d, want %d; body: %s", r.status, want, r.body)
	}
	return r
}

// wantError checks the status and the envelope's reason.
func (r *response) wantError(status int, reason string) errorBody {
	r.t.Helper()
	r.wantStatus(status)
	var e struct{ Error errorBody }
	r.decode(&e)
	if e.Error.Reason != reason {
		r.t.Fatalf("reason: got %s, want %s; body: %s", e.Error.Reason, reason, r.body)
	}
	if e.Error.RequestID == "" || e.Error.RequestID != r.header.Get("X-Request-Id") {
		r.t.Errorf("request_id %q must match the X-Request-Id header %q", e.Error.RequestID, r.header.Get("X-Request-Id"))
	}
	return e.Error
}

type errorBody struct {
	Status    string        `json:"status"`
	Reason    string        `json:"reason"`
	Message   string        `json:"message"`
	RequestID string        `json:"request_id"`
	Details   []errorDetail `json:"details"`
}

type errorDetail struct {
	Pointer   string `json:"pointer"`
	Parameter string `json:"parameter"`
	Reason    string `json:"reason"`
	Message   string `json:"message"`
}

// decode reads the body into v, from zero: fields that the answer leaves out must not keep what v held before.
func (r *response) decode(v any) {
	r.t.Helper()
	reflect.ValueOf(v).Elem().SetZero()
	if err := json.Unmarshal(r.body, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.body, err)
	}
}

// request describes one call; do and as build it.
type request struct {
	method, path string
	body         any
	header       http.Header
}

// do sends a request without credentials. body may be nil, a string or []byte (sent as is), or a value to encode.
func (e *env) do(method, path string, body any, header ...string) *response {
	e.t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Add(header[i], header[i+1])
	}
	return e.send(request{method: method, path: path, body: body, header: h})
}

// as sends a request with the user's token as a bearer token.
func (e *env) as(u user, method, path string, body any, header ...string) *response {
	e.t.Helper()
	return e.do(method, path, body, append([]string{"Authorization", "Bearer " + u.token}, header...)...)
}

func (e *env) send(r request) *response {
	e.t.Helper()
	var rd io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(r.method, e.srv.URL+r.path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range r.header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	leaks.issuedIn(body)
	return &response{t: e.t, status: res.StatusCode, header: res.Header, body: body}
}

// apiFlow is a flow as the API answers it.
type apiFlow struct {
	ID               string      `json:"id"`
	CustomerID       string      `json:"customer_id"`
	Type             string      `json:"type"`
	Name             string      `json:"name"`
	Detail           string      `json:"detail"`
	Actions          []apiAction `json:"actions"`
	OnCompleteFlowID string      `json:"on_complete_flow_id"`
	TMCreate         string      `json:"tm_create"`
	TMUpdate         string      `json:"tm_update"`
	TMDelete         string      `json:"tm_delete"`
}

type apiAction struct {
	ID     string          `json:"id"`
	NextID string          `json:"next_id"`
	Type   string          `json:"type"`
	Option json.RawMessage `json:"option"`
}

type apiFlowList struct {
	Result        []apiFlow `json:"result"`
	NextPageToken string    `json:"next_page_token"`
}

// storeURL is the database URL of the environment's store (PostgreSQL only).
func (e *env) storeURL(t testing.TB) string {
	t.Helper()
	if e.stCfg.URL == "" {
		t.Fatal("not a PostgreSQL environment")
	}
	return e.stCfg.URL
}

// withT returns the environment reporting to t (a subtest, or a fuzz iteration).
func (e *env) withT(t testing.TB) *env {
	c := *e
	c.t = t
	c.client = &http.Client{Transport: &apitest.Transport{Contract: contract, T: t}, Timeout: time.Minute}
	return &c
}

func (e *env) createFlow(u user, body any) apiFlow {
	e.t.Helper()
	var f apiFlow
	e.as(u, "POST", "/v1.0/flows", body).wantStatus(http.StatusOK).decode(&f)
	return f
}

func mustParse(t testing.TB, doc string) *flow.Definition {
	t.Helper()
	def, rep := flow.Parse([]byte(doc), flow.Limits{})
	if !rep.Valid() {
		t.Fatalf("%s: %v", doc, rep.Err())
	}
	return def
}
