package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowbin/flowbin/store/storetest"
)

// TestUserRevocationCommands: flowbin user passwd, logout, disable and remove, run while servers are up, make the
// user's earlier login tokens fail at once on every server (two processes on one PostgreSQL database, or one on
// the SQLite file the command writes); access keys fail only while their creator is disabled, or once removed.
func TestUserRevocationCommands(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		env := map[string]string{"FLOWBIN_ADMIN_PASSWORD": "first-password", "FLOWBIN_BCRYPT_COST": "4"}
		if b == storetest.Postgres {
			env["FLOWBIN_DATABASE_URL"] = storetest.NewPostgresDatabase(t)
		} else {
			env["FLOWBIN_DATA_DIR"] = t.TempDir()
		}
		copyEnv := func() map[string]string {
			c := map[string]string{}
			for k, v := range env {
				c[k] = v
			}
			return c
		}
		servers := []*started{start(t, copyEnv())}
		if b == storetest.Postgres {
			servers = append(servers, start(t, copyEnv()))
		}
		cli := func(stdin string, args ...string) string {
			t.Helper()
			var out strings.Builder
			if err := run(context.Background(), args, getenv(env), strings.NewReader(stdin), &out, io.Discard); err != nil {
				t.Fatalf("flowbin %s: %v", strings.Join(args, " "), err)
			}
			return out.String()
		}
		works := func(s *started, cred string) bool {
			status, body := call(t, "GET", s.url+"/v1.0/flows", "", "Authorization", "Bearer "+cred)
			if status != http.StatusOK && status != http.StatusUnauthorized {
				t.Fatalf("status %d: %s", status, body)
			}
			return status == http.StatusOK
		}
		// refused waits, at most 5s, for every server to refuse cred (other processes hear of the change when
		// PostgreSQL announces its commit).
		refused := func(what, cred string) {
			t.Helper()
			for _, s := range servers {
				deadline := time.Now().Add(5 * time.Second)
				for works(s, cred) {
					if time.Now().After(deadline) {
						t.Fatalf("%s: %s still accepts the revoked credential after 5s", what, s.url)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		}
		password := "first-password"
		token := login(t, servers[0].url, "admin", password)
		status, body := call(t, "POST", servers[0].url+"/v1.0/accesskeys", `{"name":"bot","expire":86400}`, "Authorization", "Bearer "+token)
		if status != http.StatusOK {
			t.Fatalf("create key: %d %s", status, body)
		}
		var key struct{ Token string }
		json.Unmarshal(body, &key)
		keyWorks := func(want bool) {
			t.Helper()
			for _, s := range servers {
				deadline := time.Now().Add(5 * time.Second)
				for works(s, key.Token) != want {
					if time.Now().After(deadline) {
						t.Fatalf("the access key works: %v, want %v", !want, want)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		}
		for i, step := range []struct {
			args    []string
			keyWork bool
		}{
			{[]string{"user", "passwd", "--username", "admin", "--password-stdin"}, true},
			{[]string{"user", "logout", "--username", "admin"}, true},
			{[]string{"user", "disable", "--username", "admin"}, false},
			{[]string{"user", "remove", "--username", "admin"}, false},
		} {
			for _, s := range servers {
				for range 2 { // the second answer comes from what the first one remembered
					if !works(s, token) {
						t.Fatalf("%s: the token fails before", step.args[1])
					}
				}
			}
			newPassword := fmt.Sprintf("new-password-%d", i)
			out := cli(newPassword+"\n", step.args...)
			refused(step.args[1], token)
			keyWorks(step.keyWork)
			switch step.args[1] {
			case "passwd":
				password = newPassword
			case "disable":
				if out := cli("", "user", "list"); !strings.Contains(out, "disabled") {
					t.Errorf("user list does not say disabled:\n%s", out)
				}
				if status, _ := call(t, "POST", servers[0].url+"/auth/login", fmt.Sprintf(`{"username":"admin","password":%q}`, password)); status != http.StatusUnauthorized {
					t.Errorf("a disabled user logs in: %d", status)
				}
				cli("", "user", "enable", "--username", "admin")
				keyWorks(true)
			}
			if !strings.Contains(out, "admin") {
				t.Errorf("%v: %q", step.args, out)
			}
			if step.args[1] != "remove" {
				token = login(t, servers[0].url, "admin", password)
			}
		}
		if status, _ := call(t, "POST", servers[0].url+"/auth/login", fmt.Sprintf(`{"username":"admin","password":%q}`, password)); status != http.StatusUnauthorized {
			t.Errorf("a removed user logs in: %d", status)
		}
		var out strings.Builder
		if err := run(context.Background(), []string{"user", "logout", "--username", "nobody"}, getenv(env), strings.NewReader(""), &out, io.Discard); err == nil || !strings.Contains(err.Error(), "no user") {
			t.Errorf("logout of an unknown user: %v", err)
		}
	})
}

// TestBinaryLogsNoCredentials: the program's own log (JSON, every level) holds no credential however requests
// spell it.
func TestBinaryLogsNoCredentials(t *testing.T) {
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "pw-of-admin",
		"FLOWBIN_LOG_FORMAT": "json", "FLOWBIN_LOG_LEVEL": "debug"})
	token := login(t, s.url, "admin", "pw-of-admin")
	_, body := call(t, "POST", s.url+"/v1.0/accesskeys", `{"expire":86400}`, "Authorization", "Bearer "+token)
	var key struct{ Token string }
	json.Unmarshal(body, &key)
	for _, q := range []string{"%74oken=" + token, "%61ccesskey=" + key.Token, "x=" + token, "token=" + token + "&%zz"} {
		if status, _ := call(t, "GET", s.url+"/v1.0/flows?"+q, ""); status == http.StatusInternalServerError {
			t.Fatalf("%s: 500", q)
		}
	}
	call(t, "GET", s.url+"/v1.0/flows/"+key.Token, "", "Authorization", "Bearer "+token)
	s.shutdown(t)
	logs := s.stderr.String()
	for _, cred := range []string{token[strings.LastIndexByte(token, '.')+1:], strings.TrimPrefix(key.Token, "fbk_"), "pw-of-admin"} {
		if strings.Contains(logs, cred) {
			t.Errorf("the log holds a credential (%.8s…):\n%s", cred, logs)
		}
	}
	if !strings.Contains(logs, `token=REDACTED"`) || !strings.Contains(logs, `"query":"accesskey=REDACTED`) || !strings.Contains(logs, `"query":"x=REDACTED"`) {
		t.Errorf("the access log does not show the decoded, masked query:\n%s", logs)
	}
}
