package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbin/flowbin/internal/apitest"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// getenv builds a getenv from a map.
func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// started is a flowbin process run in the test: its base URL, its output, and how to stop it.
type started struct {
	url    string
	stop   context.CancelFunc
	done   chan error
	once   sync.Once
	stderr *apitest.LogBuffer
	hint   string // the line after "listening on": how to log in
}

// start runs the whole program, as main would, on a free port.
func start(t *testing.T, env map[string]string) *started {
	t.Helper()
	env["FLOWBIN_ADDR"] = "127.0.0.1:0"
	if env["FLOWBIN_BCRYPT_COST"] == "" {
		env["FLOWBIN_BCRYPT_COST"] = "4"
	}
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	s := &started{stop: cancel, done: make(chan error, 1), stderr: &apitest.LogBuffer{}}
	stderr := s.stderr
	go func() {
		s.done <- run(ctx, nil, getenv(env), strings.NewReader(""), outW, stderr)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	for lines.Scan() {
		if m := apitest.Listening.FindStringSubmatch(lines.Text()); m != nil {
			s.url = m[1]
			break
		}
	}
	if s.url == "" {
		cancel()
		t.Fatalf("flowbin did not start: %v\n%s", <-s.done, stderr.String())
	}
	if lines.Scan() {
		s.hint = lines.Text()
	}
	go io.Copy(io.Discard, outR)
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

// shutdown stops the program as SIGTERM would, and checks that it exits cleanly.
func (s *started) shutdown(t *testing.T) {
	t.Helper()
	s.once.Do(func() {
		s.stop()
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("flowbin exited with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("flowbin did not stop")
		}
	})
}

func call(t *testing.T, method, url, body string, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func login(t *testing.T, base, user, password string) string {
	t.Helper()
	status, body := call(t, "POST", base+"/auth/login", fmt.Sprintf(`{"username":%q,"password":%q}`, user, password))
	if status != http.StatusOK {
		t.Fatalf("login: %d %s", status, body)
	}
	var res struct{ Token string }
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	return res.Token
}

// TestRunServes starts the program on the zero set-up default (SQLite in a directory), logs in as the bootstrap
// user, creates a flow, restarts, and finds the flow and the token still good.
func TestRunServes(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"FLOWBIN_DATA_DIR": dir, "FLOWBIN_ADMIN_PASSWORD": "s3cret-pass"}
	s := start(t, env)
	if status, _ := call(t, "GET", s.url+"/readyz", ""); status != http.StatusOK {
		t.Fatalf("readyz: %d", status)
	}
	token := login(t, s.url, "admin", "s3cret-pass")
	status, body := call(t, "POST", s.url+"/v1.0/flows?token="+token, `{"name":"kept","actions":[{"type":"answer"}]}`)
	if status != http.StatusOK {
		t.Fatalf("create: %d %s", status, body)
	}
	s.shutdown(t)
	if strings.Contains(s.stderr.String(), "s3cret-pass") || strings.Contains(s.stderr.String(), token) {
		t.Errorf("a secret reached the log")
	}
	if !strings.Contains(s.stderr.String(), `msg="starting flowbin"`) || !strings.Contains(s.stderr.String(), "admin_password=(set)") {
		t.Errorf("the effective configuration is not logged with secrets masked:\n%s", s.stderr.String())
	}

	// Restarted on the same data: same signing secret (kept in the database), same flows.
	s2 := start(t, map[string]string{"FLOWBIN_DATA_DIR": dir})
	status, body = call(t, "GET", s2.url+"/v1.0/flows", "", "Authorization", "Bearer "+token)
	if status != http.StatusOK || !strings.Contains(string(body), `"name":"kept"`) {
		t.Fatalf("after restart: %d %s", status, body)
	}
	if strings.Contains(s2.stderr.String(), "random password") {
		t.Errorf("a second start must not create another user")
	}
}

// TestRandomBootstrapPassword: without FLOWBIN_ADMIN_PASSWORD the first user gets a random password, printed once.
func TestRandomBootstrapPassword(t *testing.T) {
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_LOG_FORMAT": "json"})
	var password string
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["password"] != nil {
			password = entry["password"].(string)
		}
	}
	if len(password) < 16 {
		t.Fatalf("no random password in the log:\n%s", s.stderr.String())
	}
	login(t, s.url, "admin", password)
}

// TestTwoInstancesShareTokens: a second process on the same PostgreSQL database accepts tokens issued by the
// first, because the generated signing secret is kept in the database.
func TestTwoInstancesShareTokens(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	env := func() map[string]string {
		return map[string]string{"FLOWBIN_DATABASE_URL": url, "FLOWBIN_ADMIN_PASSWORD": "pw-for-both"}
	}
	a := start(t, env())
	b := start(t, env())
	token := login(t, a.url, "admin", "pw-for-both")
	status, body := call(t, "POST", a.url+"/v1.0/flows", `{"name":"from a"}`, "Authorization", "Bearer "+token)
	if status != http.StatusOK {
		t.Fatalf("create on a: %d %s", status, body)
	}
	status, body = call(t, "GET", b.url+"/v1.0/flows", "", "Authorization", "Bearer "+token)
	if status != http.StatusOK || !strings.Contains(string(body), "from a") {
		t.Fatalf("b with a's token: %d %s", status, body)
	}
}

func TestUserCommands(t *testing.T) {
	env := map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_BCRYPT_COST": "4"}
	ctx := context.Background()
	runCmd := func(stdin string, args ...string) (string, error) {
		var out strings.Builder
		err := run(ctx, args, getenv(env), strings.NewReader(stdin), &out, io.Discard)
		return out.String(), err
	}
	if _, err := runCmd("", "migrate"); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd("first-password\n", "user", "add", "--customer", "acme", "--username", "carol", "--password-stdin"); err != nil || !strings.Contains(out, "created user carol") {
		t.Fatalf("user add: %q %v", out, err)
	}
	if _, err := runCmd("another-password\n", "user", "add", "--customer", "acme", "--username", "carol", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("duplicate user add: %v", err)
	}
	if _, err := runCmd("second-password\n", "user", "passwd", "--username", "carol", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd("another-password\n", "user", "passwd", "--username", "nobody", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("passwd of an unknown user succeeded")
	}
	out, err := runCmd("", "user", "list")
	if err != nil || !strings.Contains(out, "carol") || !strings.Contains(out, "acme") {
		t.Fatalf("user list: %q %v", out, err)
	}
	for _, bad := range [][]string{
		{"user"}, {"user", "add", "--username", "x", "--password-stdin"}, {"user", "add", "--customer", "c", "--username", "x"},
		{"user", "frobnicate"}, {"user", "list", "extra"}, {"frobnicate"},
	} {
		if _, err := runCmd("pw\n", bad...); err == nil {
			t.Errorf("%v: want a usage error", bad)
		}
	}
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": env["FLOWBIN_DATA_DIR"]})
	login(t, s.url, "carol", "second-password")
	if status, _ := call(t, "POST", s.url+"/auth/login", `{"username":"carol","password":"first-password"}`); status != http.StatusUnauthorized {
		t.Errorf("the old password still works: %d", status)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, env := range []map[string]string{
		{"FLOWBIN_DATABASE_URL": "mysql://x"},
		{"FLOWBIN_TOKEN_TTL": "forever"},
		{"FLOWBIN_LOG_LEVEL": "loud"},
		{"FLOWBIN_JWT_SECRET": "short"},
		{"FLOWBIN_MAX_BODY_BYTES": "-1"},
		{"FLOWBIN_TRUSTED_PROXIES": "not-a-cidr"},
		{"FLOWBIN_JWT_SECRET_FILE": filepath.Join(t.TempDir(), "missing")},
	} {
		if err := run(context.Background(), []string{"migrate"}, getenv(env), nil, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: want a configuration error", env)
		}
	}
}

// TestTakenPortSpendsNoPassword: a start that cannot bind its listener (the API's or the metrics') fails before the
// first user is created, so its random password, shown once, is not spent: the next start creates the user and
// shows it. On both databases.
func TestTakenPortSpendsNoPassword(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			env := func() map[string]string {
				e := map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_BCRYPT_COST": "4", "FLOWBIN_LOG_FORMAT": "json"}
				if db == "postgres" {
					e["FLOWBIN_DATABASE_URL"] = storetest.NewPostgresDatabase(t)
				}
				return e
			}()
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			for _, setting := range []string{"FLOWBIN_ADDR", "FLOWBIN_METRICS_ADDR"} {
				failing := maps.Clone(env)
				failing["FLOWBIN_ADDR"] = "127.0.0.1:0"
				failing[setting] = taken.Addr().String()
				_, stderr, err := runProgram(t, failing, "")
				if err == nil || !strings.Contains(err.Error(), "address already in use") {
					t.Fatalf("%s taken: got %v, want a bind error", setting, err)
				}
				if strings.Contains(stderr, "first user") || strings.Contains(stderr, `"password"`) {
					t.Fatalf("%s taken: the failed start created the first user:\n%s", setting, stderr)
				}
			}
			s := start(t, env)
			var password string
			for _, line := range strings.Split(s.stderr.String(), "\n") {
				var entry map[string]any
				if json.Unmarshal([]byte(line), &entry) == nil && entry["password"] != nil {
					password = entry["password"].(string)
				}
			}
			if password == "" {
				t.Fatalf("the start after the failed ones shows no password:\n%s", s.stderr.String())
			}
			login(t, s.url, "admin", password)
		})
	}
}

// TestUserCommandsNameTheirDatabase: the user commands never create a database (run from another folder, they
// used to work on a new, empty flowbin.db there), always say on standard error which one they opened, and refuse
// new passwords shorter than auth.MinPasswordLength. On both databases.
func TestUserCommandsNameTheirDatabase(t *testing.T) {
	empty := t.TempDir()
	for _, args := range [][]string{{"user", "list"}, {"user", "add", "--customer", "c", "--username", "u", "--password-stdin"},
		{"user", "passwd", "--username", "u", "--password-stdin"}, {"user", "logout", "--username", "u"}} {
		_, _, err := runProgram(t, map[string]string{"FLOWBIN_DATA_DIR": empty}, "a-long-enough-password\n", args...)
		if err == nil || !strings.Contains(err.Error(), "no database at "+filepath.Join(empty, "flowbin.db")) {
			t.Errorf("%v in an empty folder: got %v, want a refusal naming the file", args, err)
		}
		if files, _ := os.ReadDir(empty); len(files) != 0 {
			t.Fatalf("%v created %v", args, files)
		}
	}
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			env := map[string]string{"FLOWBIN_BCRYPT_COST": "4"}
			want := "database: SQLite "
			if db == "postgres" {
				env["FLOWBIN_DATABASE_URL"] = storetest.NewPostgresDatabase(t)
				want = "database: PostgreSQL " + store.RedactURL(env["FLOWBIN_DATABASE_URL"]) + "\n"
			} else {
				env["FLOWBIN_DATA_DIR"] = t.TempDir()
				want += filepath.Join(env["FLOWBIN_DATA_DIR"], "flowbin.db") + "\n"
			}
			if _, _, err := runProgram(t, env, "", "migrate"); err != nil {
				t.Fatal(err)
			}
			_, _, err := runProgram(t, env, "short-pw-11\n", "user", "add", "--customer", "c", "--username", "u", "--password-stdin")
			if err == nil || !strings.Contains(err.Error(), "at least 12") {
				t.Errorf("an 11-character password: got %v, want a refusal", err)
			}
			stdout, stderr, err := runProgram(t, env, "twelve-chars\n", "user", "add", "--customer", "c", "--username", "u", "--password-stdin")
			if err != nil || !strings.Contains(stdout, "created user u") || !strings.HasPrefix(stderr, want) {
				t.Errorf("user add: %q %q %v, want stderr starting %q", stdout, stderr, err, want)
			}
			stdout, stderr, err = runProgram(t, env, "", "user", "list")
			if err != nil || !strings.HasPrefix(stdout, "USERNAME") || !strings.Contains(stderr, want) {
				t.Errorf("user list: %q %q %v", stdout, stderr, err)
			}
		})
	}
}
