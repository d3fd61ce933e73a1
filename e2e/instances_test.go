package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/flowbin/flowbin/store/storetest"
)

// api is a tiny client for the tests below: a base URL and a credential.
type api struct {
	t     *testing.T
	base  string
	token string
}

func (a api) call(method, path, body string, header ...string) (int, http.Header, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

func (a api) want(status int, method, path, body string, header ...string) (http.Header, []byte) {
	a.t.Helper()
	got, h, b := a.call(method, path, body, header...)
	if got != status {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, status, b)
	}
	return h, b
}

// TestTwoProcessesOnePostgres runs two flowbin processes on one PostgreSQL database, with nothing shared but the
// database: tokens, rate limits, lists, deletes, conditional writes and idempotent creates behave as with one.
func TestTwoProcessesOnePostgres(t *testing.T) {
	db := storetest.NewPostgresDatabase(t)
	env := func() map[string]string {
		return map[string]string{"FLOWBIN_DATABASE_URL": db, "FLOWBIN_ADMIN_PASSWORD": "two-procs",
			"FLOWBIN_LOGIN_ATTEMPTS_PER_USER": "6"}
	}
	p1, p2 := start(t, env()), start(t, env())

	// A token issued by one process works on the other.
	_, b := api{t: t, base: p1.url}.want(http.StatusOK, "POST", "/auth/login", `{"username":"admin","password":"two-procs"}`)
	var login struct{ Token string }
	json.Unmarshal(b, &login)
	a1, a2 := api{t: t, base: p1.url, token: login.Token}, api{t: t, base: p2.url, token: login.Token}

	// Lists and deletes: what one writes, the other reads at once.
	_, b = a1.want(http.StatusOK, "POST", "/v1.0/flows", `{"name":"from one"}`)
	var f struct {
		ID string `json:"id"`
	}
	json.Unmarshal(b, &f)
	_, b = a2.want(http.StatusOK, "GET", "/v1.0/flows", "")
	if !strings.Contains(string(b), f.ID) {
		t.Fatalf("process 2 does not list the flow of process 1: %s", b)
	}
	a2.want(http.StatusNoContent, "DELETE", "/v1.0/flows/"+f.ID, "")
	a1.want(http.StatusNotFound, "GET", "/v1.0/flows/"+f.ID, "")

	// Conditional writes: two editors on two processes, one wins.
	_, b = a1.want(http.StatusOK, "POST", "/v1.0/flows", `{"name":"shared"}`)
	json.Unmarshal(b, &f)
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, a := range []api{a1, a2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _, _ = a.call("PUT", "/v1.0/flows/"+f.ID, `{"name":"editor `+strconv.Itoa(i)+`"}`, "If-Match", `"r1"`)
		}()
	}
	wg.Wait()
	if !(statuses[0] == 200 && statuses[1] == 412) && !(statuses[0] == 412 && statuses[1] == 200) {
		t.Errorf("two editors on two processes: statuses %v, want one 200 and one 412", statuses)
	}

	// Idempotent creates: 20 concurrent retries spread over both processes make one flow, one answer.
	bodies := make([]string, 20)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := []api{a1, a2}[i%2]
			status, _, body := a.call("POST", "/v1.0/flows", `{"name":"once"}`, "Idempotency-Key", "two-processes")
			bodies[i] = strconv.Itoa(status) + " " + string(body)
		}()
	}
	wg.Wait()
	for i := range bodies {
		if bodies[i] != bodies[0] {
			t.Fatalf("answers differ:\n%q\n%q", bodies[0], bodies[i])
		}
	}
	_, b = a2.want(http.StatusOK, "GET", "/v1.0/flows", "")
	if n := strings.Count(string(b), `"name":"once"`); n != 1 {
		t.Errorf("%d flows named once, want 1", n)
	}

	// Rate limits: the login attempts of both processes count together (the first login above was 1 of 6).
	for i := 0; i < 5; i++ {
		api{t: t, base: []string{p1.url, p2.url}[i%2]}.want(http.StatusUnauthorized, "POST", "/auth/login", `{"username":"admin","password":"no"}`)
	}
	api{t: t, base: p2.url}.want(http.StatusTooManyRequests, "POST", "/auth/login", `{"username":"admin","password":"two-procs"}`)
	api{t: t, base: p1.url}.want(http.StatusTooManyRequests, "POST", "/auth/login", `{"username":"admin","password":"two-procs"}`)
}
