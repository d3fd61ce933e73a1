package server_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/flowbin/flowbin/internal/faultproxy"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// login logs the user in through e and answers the token.
func (e *env) login(name, password string) string {
	e.t.Helper()
	var l struct{ Token string }
	e.do("POST", "/auth/login", map[string]string{"username": name, "password": password}).wantStatus(http.StatusOK).decode(&l)
	return l.Token
}

// works reports whether a credential (token or access key) is accepted by e, after checking that a refusal is
// the documented 401.
func (e *env) works(cred string) bool {
	e.t.Helper()
	res := e.do("GET", "/v1.0/flows", nil, "Authorization", "Bearer "+cred)
	if res.status == http.StatusOK {
		return true
	}
	res.wantError(http.StatusUnauthorized, "INVALID_CREDENTIALS")
	return false
}

// refusedWithin polls e until it refuses the credential, for at most 5s (another instance hears of a change when
// PostgreSQL announces its commit, milliseconds later), and answers how long that took.
func (e *env) refusedWithin(cred string) time.Duration {
	e.t.Helper()
	start := time.Now()
	for e.works(cred) {
		if time.Since(start) > 5*time.Second {
			e.t.Fatalf("a revoked credential (%.12s…) is still accepted after 5s", cred)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// TestRevocation: a password change, a log-out, a disabling and a removal each make the user's earlier login
// tokens fail at once, on every instance, though they were remembered as verified; access keys keep working,
// unless their creator is disabled or removed. Other users are untouched.
func TestRevocation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		a := newEnv(t, b)
		instances := []*env{a}
		var other *server.Server
		if b == storetest.Postgres {
			var second *env
			second, other = a.instanceOn(t, server.Config{}, store.Config{URL: a.storeURL(t)})
			instances = append(instances, second)
		}
		ctx := context.Background()
		key := a.createKey(a.alice, `{"name":"alice's bot","expire":86400}`)
		keyByKey := ""
		{
			var k apiAccesskey
			a.do("POST", "/v1.0/accesskeys", `{"name":"made by a key","expire":86400}`, "Authorization", "Bearer "+key.Token).
				wantStatus(http.StatusOK).decode(&k)
			keyByKey = k.Token
		}
		bobKey := a.createKey(a.bob, `{"expire":86400}`)
		// revoke changes alice and checks that her token fails everywhere while the others keep working.
		revoke := func(what string, token string, change func() error, keysWork bool) {
			t.Helper()
			for _, e := range instances {
				for range 3 { // remembered as verified, and its user's state remembered
					if !e.works(token) {
						t.Fatalf("%s: the token fails before the change", what)
					}
				}
			}
			// On PostgreSQL the other instance remembers alice's state (it hears every change), and must forget it.
			if other != nil && other.RememberedUsers() == 0 {
				t.Fatalf("%s: the other instance remembers no user: the test would not test the notifications", what)
			}
			if err := change(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if a.works(token) {
				t.Errorf("%s: the instance that made the change still accepts the token", what)
			}
			for _, e := range instances[1:] {
				t.Logf("%s: the other instance refused the token after %v", what, e.refusedWithin(token))
			}
			for _, e := range instances {
				if got := e.works(key.Token) && e.works(keyByKey); got != keysWork {
					t.Errorf("%s: alice's access keys work: %v, want %v", what, got, keysWork)
				}
				if !e.works(a.bob.token) || !e.works(bobKey.Token) {
					t.Errorf("%s: bob's credentials stopped working", what)
				}
			}
		}

		revoke("password change", a.alice.token, func() error {
			hash, _ := testPasswords(t).Hash("new-alice-password")
			return a.st.SetPassword(ctx, "alice", hash)
		}, true)
		a.do("POST", "/auth/login", `{"username":"alice","password":"alice-password"}`).wantError(http.StatusUnauthorized, "INVALID_CREDENTIALS")

		tok := a.login("alice", "new-alice-password")
		revoke("log out", tok, func() error { return a.st.LogoutUser(ctx, "alice") }, true)

		tok = a.login("alice", "new-alice-password")
		revoke("disable", tok, func() error { return a.st.DisableUser(ctx, "alice") }, false)
		e := a.do("POST", "/auth/login", `{"username":"alice","password":"new-alice-password"}`).wantError(http.StatusUnauthorized, "INVALID_CREDENTIALS")
		if e.Message != "this user is disabled" {
			t.Errorf("login of a disabled user: %q", e.Message)
		}
		if err := a.st.EnableUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		for _, e := range instances {
			e.refusedWithin(tok) // enabling again does not bring old tokens back
			deadline := time.Now().Add(5 * time.Second)
			for !e.works(key.Token) {
				if time.Now().After(deadline) {
					t.Fatal("alice's access key does not work again after she was enabled")
				}
				time.Sleep(2 * time.Millisecond)
			}
		}

		tok = a.login("alice", "new-alice-password")
		revoke("removal", tok, func() error { return a.st.DeleteUser(ctx, "alice") }, false)
		// Her flows are her customer's, and stay.
		if n := a.countFlows(a.bob); n != 0 {
			t.Errorf("bob sees %d flows", n)
		}
	})
}

// TestRevocationWithoutListener: an instance that cannot hear changes (its listener's connection is gone) does
// not trust what it remembered of users: it reads the database, and when it cannot, refuses.
func TestRevocationWithoutListener(t *testing.T) {
	a := newEnv(t, storetest.Postgres)
	proxy := faultproxy.Start(t, "127.0.0.1:5432")
	u, _ := url.Parse(a.storeURL(t))
	u.Host = proxy.Addr()
	const heartbeat = 200 * time.Millisecond
	b, bs := a.instanceOn(t, server.Config{RequestTimeout: time.Second},
		store.Config{URL: u.String(), ListenHeartbeat: heartbeat})
	for range 3 {
		if !b.works(a.alice.token) {
			t.Fatal("the token fails before the change")
		}
	}
	proxy.Cut()
	for bs.FlowCacheLive() {
		time.Sleep(5 * time.Millisecond)
	}
	hash, _ := testPasswords(t).Hash("changed while b was deaf")
	if err := a.st.SetPassword(context.Background(), "alice", hash); err != nil {
		t.Fatal(err)
	}
	// b cannot reach the database: it refuses (503), never accepts on what it remembered.
	b.do("GET", "/v1.0/flows", nil, "Authorization", "Bearer "+a.alice.token).wantError(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	proxy.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := b.do("GET", "/v1.0/flows", nil, "Authorization", "Bearer "+a.alice.token)
		if res.status == http.StatusUnauthorized {
			break
		}
		if res.status == http.StatusOK {
			t.Fatal("after the outage, b accepted a token revoked while its listener was down")
		}
		if time.Now().After(deadline) {
			t.Fatalf("b did not recover within 10s: %d %s", res.status, res.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And a change made with SQL, by no flowbin at all, is heard as well.
	tok := a.login("alice", "changed while b was deaf")
	for range 2 { // the second answer comes from what the first one remembered
		if !b.works(tok) {
			t.Fatal("a fresh token fails")
		}
	}
	db, err := sql.Open("pgx", a.storeURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE users SET token_generation = token_generation + 1 WHERE username = 'alice'`); err != nil {
		t.Fatal(err)
	}
	b.refusedWithin(tok)
	a.refusedWithin(tok)
}
