package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

const seedBody = `{"name":"test flow","actions":[{"type":"answer"},{"type":"talk","option":{"text":"hello"}}]}`

func (e *env) countFlows(u user) int {
	e.t.Helper()
	var l apiFlowList
	e.as(u, "GET", "/v1.0/flows", nil).wantStatus(http.StatusOK).decode(&l)
	return len(l.Result)
}

// concurrentPosts sends the same POST n times at once, spread over the given servers, and returns the answers.
func concurrentPosts(t *testing.T, envs []*env, path, body, key string, n int) []*response {
	t.Helper()
	answers := make([]*response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := envs[i%len(envs)].withT(t)
			<-start
			answers[i] = e.as(e.alice, "POST", path, body, "Idempotency-Key", key)
		}()
	}
	close(start)
	wg.Wait()
	return answers
}

func sameAnswers(t *testing.T, answers []*response) {
	t.Helper()
	for i, a := range answers {
		if a.status != answers[0].status || string(a.body) != string(answers[0].body) {
			t.Fatalf("answer %d differs: %d %s\nfirst: %d %s", i, a.status, a.body, answers[0].status, answers[0].body)
		}
	}
}

// TestIdempotentCreate retries a POST with the same Idempotency-Key 20 times concurrently: exactly one flow
// exists, and every answer is the same.
func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		answers := concurrentPosts(t, []*env{e}, "/v1.0/flows", seedBody, "retry-me-1", 20)
		if answers[0].status != http.StatusOK {
			t.Fatalf("status %d: %s", answers[0].status, answers[0].body)
		}
		sameAnswers(t, answers)
		replayed := 0
		for _, a := range answers {
			if a.header.Get("Idempotent-Replayed") == "true" {
				replayed++
			}
		}
		if replayed != 19 {
			t.Errorf("%d answers were replays, want 19", replayed)
		}
		if n := e.countFlows(e.alice); n != 1 {
			t.Fatalf("%d flows exist, want 1", n)
		}

		// A later retry is a replay too, ETag included.
		res := e.as(e.alice, "POST", "/v1.0/flows", seedBody, "Idempotency-Key", "retry-me-1").wantStatus(http.StatusOK)
		if string(res.body) != string(answers[0].body) || res.header.Get("ETag") != `"r1"` || res.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("later retry: %s %v", res.body, res.header)
		}
		// The same key with another body is refused; another key, or another customer's same key, is new.
		e.as(e.alice, "POST", "/v1.0/flows", `{"name":"other"}`, "Idempotency-Key", "retry-me-1").
			wantError(http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED")
		e.as(e.alice, "POST", "/v1.0/flows", seedBody, "Idempotency-Key", "retry-me-2").wantStatus(http.StatusOK)
		e.as(e.bob, "POST", "/v1.0/flows", seedBody, "Idempotency-Key", "retry-me-1").wantStatus(http.StatusOK)
		if n := e.countFlows(e.alice); n != 2 {
			t.Errorf("%d flows of alice, want 2", n)
		}
		// Without a key, every POST creates.
		e.as(e.alice, "POST", "/v1.0/flows", seedBody).wantStatus(http.StatusOK)
		e.as(e.alice, "POST", "/v1.0/flows", seedBody).wantStatus(http.StatusOK)
		if n := e.countFlows(e.alice); n != 4 {
			t.Errorf("%d flows of alice, want 4", n)
		}
		// An invalid first request is answered, stored and replayed like any other.
		bad := e.as(e.alice, "POST", "/v1.0/flows", `{"actions":[{"type":"tlak"}]}`, "Idempotency-Key", "bad-1")
		bad.wantError(http.StatusBadRequest, "INVALID_ACTION_TYPE")
		again := e.as(e.alice, "POST", "/v1.0/flows", `{"actions":[{"type":"tlak"}]}`, "Idempotency-Key", "bad-1")
		if again.status != http.StatusBadRequest || again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replayed 400: %d %v", again.status, again.header)
		}
		for _, key := range []string{"has space", strings.Repeat("k", 256)} {
			e.as(e.alice, "POST", "/v1.0/flows", seedBody, "Idempotency-Key", key).
				wantError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
		}
	})
}

// TestIdempotentAccessKey: a retried key creation makes one key, and replays its raw key.
func TestIdempotentAccessKey(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		answers := concurrentPosts(t, []*env{e}, "/v1.0/accesskeys", `{"name":"ci","expire":86400}`, "key-1", 10)
		sameAnswers(t, answers)
		var k apiAccesskey
		answers[0].wantStatus(http.StatusOK).decode(&k)
		var list struct{ Result []apiAccesskey }
		e.as(e.alice, "GET", "/v1.0/accesskeys", nil).wantStatus(http.StatusOK).decode(&list)
		if len(list.Result) != 1 || list.Result[0].ID != k.ID {
			t.Fatalf("keys: %+v", list.Result)
		}
		e.do("GET", "/v1.0/flows?accesskey="+k.Token, nil).wantStatus(http.StatusOK)
	})
}

// TestIdempotencyAcrossInstances: the records are in the database; two server processes replay each other's.
func TestIdempotencyAcrossInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Postgres)
	second := e.secondInstance(t, server.Config{})
	answers := concurrentPosts(t, []*env{e, second}, "/v1.0/flows", seedBody, "two-instances", 20)
	sameAnswers(t, answers)
	if n := e.countFlows(e.alice); n != 1 {
		t.Fatalf("%d flows exist, want 1", n)
	}
}

// TestIdempotencyInProgress: while a request with the key is running (here: claimed by another instance that has
// not finished), a retry waits briefly, then answers 409. A claim abandoned past its lease (its request died
// without writing) is taken over.
func TestIdempotencyInProgress(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, func(c *server.Config) {
			c.IdempotencyWait = 100 * time.Millisecond
			c.RequestTimeout = time.Minute
		})
		alice, err := e.st.CustomerByName(context.Background(), "alice-co")
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte("POST /v1.0/flows\n" + seedBody))
		k := store.IdempotencyKey{CustomerID: alice.ID, Operation: "POST /v1.0/flows", Key: "busy"}
		if _, claimed, err := e.st.ClaimIdempotencyKey(context.Background(), k, hex.EncodeToString(sum[:]), time.Hour, 2*time.Minute); err != nil || !claimed {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		res := e.as(e.alice, "POST", "/v1.0/flows", seedBody, "Idempotency-Key", "busy")
		res.wantError(http.StatusConflict, "IDEMPOTENCY_KEY_IN_USE")
		if s, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("Retry-After %q", res.header.Get("Retry-After"))
		}
		if n := e.countFlows(e.alice); n != 0 {
			t.Errorf("%d flows, want 0", n)
		}
		// The claimant died: after its lease (twice the request timeout), a retry takes the key over.
		e.clock.Advance(3 * time.Minute)
		e.as(e.alice, "POST", "/v1.0/flows", seedBody, "Idempotency-Key", "busy").wantStatus(http.StatusOK)
		if n := e.countFlows(e.alice); n != 1 {
			t.Errorf("%d flows, want 1", n)
		}
		// Records expire: after 24 hours the key is new again.
		e.clock.Advance(25 * time.Hour)
		e.as(e.alice, "POST", "/v1.0/flows", seedBody, "Idempotency-Key", "busy").wantStatus(http.StatusOK)
		if n := e.countFlows(e.alice); n != 2 {
			t.Errorf("%d flows after expiry, want 2", n)
		}
	})
}

// TestIdempotentWritesCommitWithTheirAnswer: the store commits a request's writes and its stored answer together;
// if the transaction fails, neither remains and the key can be claimed again.
func TestIdempotentWritesCommitWithTheirAnswer(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		alice, _ := e.st.CustomerByName(ctx, "alice-co")
		k := store.IdempotencyKey{CustomerID: alice.ID, Operation: "POST /v1.0/flows", Key: "tx"}
		if _, claimed, err := e.st.ClaimIdempotencyKey(ctx, k, "h", time.Hour, time.Minute); err != nil || !claimed {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		def := mustParse(t, seedBody)
		err := e.st.InTx(ctx, func(ctx context.Context) error {
			if _, err := e.st.CreateFlow(ctx, alice.ID, def, store.Author{Type: "user", ID: uuid.New(), Name: "x"}); err != nil {
				return err
			}
			if err := e.st.CompleteIdempotencyKey(ctx, k, 200, "{}", []byte("{}")); err != nil {
				return err
			}
			return context.Canceled // the process "dies" before commit
		})
		if err == nil {
			t.Fatal("the transaction committed")
		}
		if n := e.countFlows(e.alice); n != 0 {
			t.Errorf("%d flows after a rollback, want 0", n)
		}
		rec, err := e.st.GetIdempotencyRecord(ctx, k)
		if err != nil || rec.State != store.IdempotencyPending {
			t.Errorf("record after rollback: %+v %v", rec, err)
		}
		if err := e.st.ReleaseIdempotencyKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		if _, claimed, err := e.st.ClaimIdempotencyKey(ctx, k, "h2", time.Hour, time.Minute); err != nil || !claimed {
			t.Errorf("claim after release: %v %v", claimed, err)
		}
	})
}

// TestIdempotentAnswersSealed: the answer kept for replays of POST /v1.0/accesskeys holds the raw key, and is at
// rest only sealed (a copy of the database does not show it); the replay gives the raw key back; a server with
// another secret cannot open it.
func TestIdempotentAnswersSealed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		first := e.as(e.alice, "POST", "/v1.0/accesskeys", `{"name":"sealed","expire":86400}`, "Idempotency-Key", "seal-1").wantStatus(http.StatusOK)
		var k apiAccesskey
		first.decode(&k)
		rec, err := e.st.GetIdempotencyRecord(context.Background(), store.IdempotencyKey{
			CustomerID: uuid.MustParse(e.alice.customerID), Operation: "POST /v1.0/accesskeys", Key: "seal-1"})
		if err != nil {
			t.Fatal(err)
		}
		random := strings.TrimPrefix(k.Token, "fbk_")
		for _, stored := range []string{string(rec.ResponseBody), rec.ResponseHeader} {
			if strings.Contains(stored, random[:12]) || strings.Contains(stored, k.ID) || strings.Contains(stored, "sealed") {
				t.Fatalf("the stored answer is in clear: %q", stored)
			}
		}
		if !strings.HasPrefix(string(rec.ResponseBody), "fbs1") {
			t.Errorf("the stored answer is not sealed: %q", rec.ResponseBody)
		}
		again := e.as(e.alice, "POST", "/v1.0/accesskeys", `{"name":"sealed","expire":86400}`, "Idempotency-Key", "seal-1").wantStatus(http.StatusOK)
		if string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: %s, want %s", again.body, first.body)
		}
		// Another customer with the same key gets an answer of their own.
		var bobs apiAccesskey
		e.as(e.bob, "POST", "/v1.0/accesskeys", `{"name":"sealed","expire":86400}`, "Idempotency-Key", "seal-1").wantStatus(http.StatusOK).decode(&bobs)
		if bobs.Token == k.Token || bobs.CustomerID != e.bob.customerID {
			t.Errorf("bob got alice's answer")
		}
	})
}
