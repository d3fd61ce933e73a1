package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

type apiAccesskey struct {
	ID          string `json:"id"`
	CustomerID  string `json:"customer_id"`
	Name        string `json:"name"`
	Detail      string `json:"detail"`
	Token       string `json:"token"`
	TokenPrefix string `json:"token_prefix"`
	TMExpire    string `json:"tm_expire"`
	TMCreate    string `json:"tm_create"`
	TMUpdate    string `json:"tm_update"`
	TMDelete    string `json:"tm_delete"`
}

func (e *env) createKey(u user, body string) apiAccesskey {
	e.t.Helper()
	var k apiAccesskey
	e.as(u, "POST", "/v1.0/accesskeys", body).wantStatus(http.StatusOK).decode(&k)
	return k
}

func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCredentials: every credential form works, every failure answers its documented 401.
func TestCredentials(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		key := e.createKey(e.alice, `{"name":"ci","expire":86400}`)
		if !strings.HasPrefix(key.Token, key.TokenPrefix) || len(key.Token) < 40 {
			t.Fatalf("raw key %q with prefix %q", key.Token, key.TokenPrefix)
		}
		for _, c := range []struct {
			name, path string
			header     []string
		}{
			{"token query", "/v1.0/flows?token=" + e.alice.token, nil},
			{"bearer token", "/v1.0/flows", []string{"Authorization", "Bearer " + e.alice.token}},
			{"lower-case scheme", "/v1.0/flows", []string{"Authorization", "bearer " + e.alice.token}},
			{"accesskey query", "/v1.0/flows?accesskey=" + key.Token, nil},
			{"bearer access key", "/v1.0/flows", []string{"Authorization", "Bearer " + key.Token}},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := e.withT(t)
				e.do("GET", c.path, nil, c.header...).wantStatus(http.StatusOK)
			})
		}

		claims := func(exp time.Time) jwt.MapClaims {
			return jwt.MapClaims{"iss": "flowbin", "sub": uuid.NewString(), "customer_id": e.alice.customerID,
				"username": "alice", "exp": exp.Unix()}
		}
		expired := signed(t, jwt.SigningMethodHS256, testSecret, claims(time.Now().Add(-time.Minute)))
		wrongKey := signed(t, jwt.SigningMethodHS256, []byte("another secret, also 32 bytes long"), claims(time.Now().Add(time.Hour)))
		wrongAlg := signed(t, jwt.SigningMethodHS512, testSecret, claims(time.Now().Add(time.Hour)))
		noExp := signed(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"iss": "flowbin", "sub": uuid.NewString(),
			"customer_id": e.alice.customerID})
		algNone := signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(time.Now().Add(time.Hour)))
		parts := strings.Split(e.alice.token, ".")
		tampered := parts[0] + "." + parts[1] + "x." + parts[2]
		for _, c := range []struct {
			name, path string
			header     []string
			reason     string
		}{
			{"nothing", "/v1.0/flows", nil, "AUTHENTICATION_REQUIRED"},
			{"empty token", "/v1.0/flows?token=", nil, "AUTHENTICATION_REQUIRED"},
			{"garbage token", "/v1.0/flows?token=garbage", nil, "INVALID_CREDENTIALS"},
			{"expired token", "/v1.0/flows?token=" + expired, nil, "INVALID_CREDENTIALS"},
			{"token without exp", "/v1.0/flows?token=" + noExp, nil, "INVALID_CREDENTIALS"},
			{"token signed with another key", "/v1.0/flows?token=" + wrongKey, nil, "INVALID_CREDENTIALS"},
			{"token signed with HS512", "/v1.0/flows?token=" + wrongAlg, nil, "INVALID_CREDENTIALS"},
			{"alg none", "/v1.0/flows?token=" + algNone, nil, "INVALID_CREDENTIALS"},
			{"tampered token", "/v1.0/flows?token=" + tampered, nil, "INVALID_CREDENTIALS"},
			{"unknown access key", "/v1.0/flows?accesskey=fbk_" + strings.Repeat("A", 43), nil, "INVALID_CREDENTIALS"},
			{"basic auth", "/v1.0/flows", []string{"Authorization", "Basic YWxpY2U6cGFzcw=="}, "INVALID_CREDENTIALS"},
			{"bearer without value", "/v1.0/flows", []string{"Authorization", "Bearer "}, "INVALID_CREDENTIALS"},
			{"bad header wins over a good query", "/v1.0/flows?token=" + e.alice.token, []string{"Authorization", "Bearer nope"}, "INVALID_CREDENTIALS"},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := e.withT(t)
				res := e.do("GET", c.path, nil, c.header...)
				res.wantError(http.StatusUnauthorized, c.reason)
				if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without WWW-Authenticate: %v", res.header)
				}
			})
		}
	})
}

func TestDeletedAndExpiredKeysFailAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		deleted := e.createKey(e.alice, `{"expire":86400}`)
		expiring := e.createKey(e.alice, `{"expire":86400}`)
		e.do("GET", "/v1.0/flows?accesskey="+deleted.Token, nil).wantStatus(http.StatusOK)
		e.as(e.alice, "DELETE", "/v1.0/accesskeys/"+deleted.ID, nil).wantStatus(http.StatusNoContent)
		e.do("GET", "/v1.0/flows?accesskey="+deleted.Token, nil).wantError(http.StatusUnauthorized, "INVALID_CREDENTIALS")

		e.do("GET", "/v1.0/flows", nil, "Authorization", "Bearer "+expiring.Token).wantStatus(http.StatusOK)
		e.clock.Advance(86400*time.Second + time.Microsecond)
		e.do("GET", "/v1.0/flows", nil, "Authorization", "Bearer "+expiring.Token).
			wantError(http.StatusUnauthorized, "INVALID_CREDENTIALS")
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		var ok struct{ Username, Token string }
		e.do("POST", "/auth/login", `{"username":"alice","password":"alice-password"}`).wantStatus(http.StatusOK).decode(&ok)
		if ok.Username != "alice" || strings.Count(ok.Token, ".") != 2 {
			t.Fatalf("got %+v", ok)
		}
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(ok.Token, claims); err != nil {
			t.Fatal(err)
		}
		exp, _ := claims.GetExpirationTime()
		if exp == nil || time.Until(exp.Time) < 59*time.Minute || time.Until(exp.Time) > time.Hour {
			t.Errorf("exp: got %v, want the configured lifetime (1h) from now", exp)
		}
		wrong := e.do("POST", "/auth/login", `{"username":"alice","password":"nope"}`).wantError(http.StatusUnauthorized, "INVALID_CREDENTIALS")
		unknown := e.do("POST", "/auth/login", `{"username":"mallory","password":"nope"}`).wantError(http.StatusUnauthorized, "INVALID_CREDENTIALS")
		if wrong.Message != unknown.Message || wrong.Status != unknown.Status {
			t.Errorf("an unknown user and a wrong password must answer alike: %+v vs %+v", wrong, unknown)
		}
		// A bob's token acts for bob's customer only.
		e.createFlow(e.alice, `{"name":"alice's"}`)
		var list apiFlowList
		e.as(e.bob, "GET", "/v1.0/flows", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 0 {
			t.Errorf("bob sees %d of alice's flows", len(list.Result))
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, func(c *server.Config) {
			c.LoginAttemptsPerUser = 3
			c.LoginAttemptsPerAddress = 5
		})
		// newEnv logged alice and bob in once each: 2 attempts from this address, 1 for each user.
		e.do("POST", "/auth/login", `{"username":"alice","password":"wrong"}`).wantError(http.StatusUnauthorized, "INVALID_CREDENTIALS")
		e.do("POST", "/auth/login", `{"username":"alice","password":"wrong"}`).wantError(http.StatusUnauthorized, "INVALID_CREDENTIALS")
		res := e.do("POST", "/auth/login", `{"username":"alice","password":"alice-password"}`)
		res.wantError(http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED")
		if s, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("Retry-After: got %q, want 1..60 seconds", res.header.Get("Retry-After"))
		}
		// Bob has attempts left, but this address has used its 5.
		e.do("POST", "/auth/login", `{"username":"bob","password":"bob-password"}`).wantError(http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED")
	})
}

// TestTenancy: customer A cannot read, list, update or delete customer B's flows or keys; their ids answer 404
// exactly like ids that never existed.
func TestTenancy(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"alice's","actions":[{"type":"answer"}]}`)
		k := e.createKey(e.alice, `{"name":"alice's","expire":86400}`)
		never := uuid.NewString()
		for _, c := range []struct{ method, path, body, reason string }{
			{"GET", "/v1.0/flows/", "", "FLOW_NOT_FOUND"},
			{"PUT", "/v1.0/flows/", `{"name":"mine now"}`, "FLOW_NOT_FOUND"},
			{"DELETE", "/v1.0/flows/", "", "FLOW_NOT_FOUND"},
			{"GET", "/v1.0/accesskeys/", "", "ACCESSKEY_NOT_FOUND"},
			{"PUT", "/v1.0/accesskeys/", `{"name":"mine now"}`, "ACCESSKEY_NOT_FOUND"},
			{"DELETE", "/v1.0/accesskeys/", "", "ACCESSKEY_NOT_FOUND"},
		} {
			id := f.ID
			if strings.Contains(c.path, "accesskeys") {
				id = k.ID
			}
			var body any
			if c.body != "" {
				body = c.body
			}
			theirs := e.as(e.bob, c.method, c.path+id, body).wantError(http.StatusNotFound, c.reason)
			missing := e.as(e.bob, c.method, c.path+never, body).wantError(http.StatusNotFound, c.reason)
			if strings.ReplaceAll(theirs.Message, id, never) != missing.Message {
				t.Errorf("%s %s: another customer's id answers %q, a missing id %q", c.method, c.path, theirs.Message, missing.Message)
			}
		}
		var flows apiFlowList
		e.as(e.bob, "GET", "/v1.0/flows", nil).wantStatus(http.StatusOK).decode(&flows)
		var keys struct{ Result []apiAccesskey }
		e.as(e.bob, "GET", "/v1.0/accesskeys", nil).wantStatus(http.StatusOK).decode(&keys)
		if len(flows.Result) != 0 || len(keys.Result) != 0 {
			t.Errorf("bob lists %d flows and %d keys of alice", len(flows.Result), len(keys.Result))
		}
		// Alice still has both, unchanged.
		var got apiFlow
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusOK).decode(&got)
		var gotKey apiAccesskey
		e.as(e.alice, "GET", "/v1.0/accesskeys/"+k.ID, nil).wantStatus(http.StatusOK).decode(&gotKey)
		if got.Name != "alice's" || gotKey.Name != "alice's" {
			t.Errorf("alice's resources changed: %q %q", got.Name, gotKey.Name)
		}
		// An access key acts for its customer too.
		e.do("GET", "/v1.0/flows/"+f.ID+"?accesskey="+k.Token, nil).wantStatus(http.StatusOK)
	})
}

func TestAccesskeyLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		k := e.createKey(e.alice, `{"name":"deploy bot","detail":"ci","expire":172800}`)
		created, _ := time.Parse(flow.TimeLayout, k.TMCreate)
		expire, _ := time.Parse(flow.TimeLayout, k.TMExpire)
		if expire.Sub(created) != 48*time.Hour || k.CustomerID != e.alice.customerID || k.TMUpdate != "" {
			t.Errorf("created key: %+v", k)
		}
		var got map[string]any
		e.as(e.alice, "GET", "/v1.0/accesskeys/"+k.ID, nil).wantStatus(http.StatusOK).decode(&got)
		if _, shown := got["token"]; shown || got["token_prefix"] != k.TokenPrefix {
			t.Errorf("the raw key must be shown only once: %v", got)
		}
		e.clock.Advance(time.Second)
		var renamed apiAccesskey
		e.as(e.alice, "PUT", "/v1.0/accesskeys/"+k.ID, `{"name":"renamed"}`).wantStatus(http.StatusOK).decode(&renamed)
		if renamed.Name != "renamed" || renamed.Detail != "" || renamed.TMUpdate == "" || renamed.TMExpire != k.TMExpire {
			t.Errorf("renamed: %+v", renamed)
		}
		e.clock.Advance(time.Second)
		second := e.createKey(e.alice, `{"expire":86400}`)
		var list struct {
			Result        []map[string]any
			NextPageToken string `json:"next_page_token"`
		}
		e.as(e.alice, "GET", "/v1.0/accesskeys?page_size=1", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 1 || list.Result[0]["id"] != second.ID || list.Result[0]["token"] != nil {
			t.Fatalf("first page: %+v", list)
		}
		e.as(e.alice, "GET", "/v1.0/accesskeys?page_size=1&page_token="+strings.ReplaceAll(list.NextPageToken, " ", "%20"), nil).
			wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 1 || list.Result[0]["id"] != k.ID {
			t.Fatalf("second page: %+v", list)
		}
		e.as(e.alice, "DELETE", "/v1.0/accesskeys/"+k.ID, nil).wantStatus(http.StatusNoContent)
		e.as(e.alice, "GET", "/v1.0/accesskeys/"+k.ID, nil).wantError(http.StatusNotFound, "ACCESSKEY_NOT_FOUND")
		e.as(e.alice, "DELETE", "/v1.0/accesskeys/"+k.ID, nil).wantError(http.StatusNotFound, "ACCESSKEY_NOT_FOUND")
	})
}

// TestSecretsStayOutOfLogs: tokens, keys and passwords never reach the log.
func TestSecretsStayOutOfLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	k := e.createKey(e.alice, `{"expire":86400}`)
	e.do("GET", "/v1.0/flows?token="+e.alice.token, nil).wantStatus(http.StatusOK)
	e.do("GET", "/v1.0/flows?accesskey="+k.Token+"&page_size=5", nil).wantStatus(http.StatusOK)
	e.do("GET", "/v1.0/flows?token=not-a-real-token-but-secret", nil).wantStatus(http.StatusUnauthorized)
	logs := e.logs.String()
	for _, secret := range []string{e.alice.token, k.Token, "alice-password", "bob-password", "not-a-real-token-but-secret"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains a secret (%.12s…)", secret)
		}
	}
	if !strings.Contains(logs, "accesskey=REDACTED&page_size=5") {
		t.Errorf("the query is not logged with credentials redacted:\n%s", logs)
	}
}

// TestLoginRateLimitAcrossInstances: two servers on one PostgreSQL database share the login counters.
func TestLoginRateLimitAcrossInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Postgres, func(c *server.Config) { c.LoginAttemptsPerUser = 4 })
	second := e.secondInstance(t, server.Config{LoginAttemptsPerUser: 4, LoginAttemptsPerAddress: 1000})

	// newEnv's login was alice's first attempt; three more, alternating instances, use up her four.
	e.do("POST", "/auth/login", `{"username":"alice","password":"x"}`).wantStatus(http.StatusUnauthorized)
	second.do("POST", "/auth/login", `{"username":"alice","password":"x"}`).wantStatus(http.StatusUnauthorized)
	e.do("POST", "/auth/login", `{"username":"alice","password":"x"}`).wantStatus(http.StatusUnauthorized)
	second.do("POST", "/auth/login", `{"username":"alice","password":"alice-password"}`).wantError(http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED")
	e.do("POST", "/auth/login", `{"username":"alice","password":"alice-password"}`).wantError(http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED")
}
