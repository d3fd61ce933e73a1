package server_test

import (
	"bytes"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowbin/flowbin/store/storetest"
)

// bodySeeds are the flow bodies that the fuzz targets start from: the seed tutorial's, and the corpus of the
// flow package's FuzzParse.
func bodySeeds(t testing.TB) [][]byte {
	t.Helper()
	var seeds [][]byte
	for _, name := range []string{"create_request.json", "update_request.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "seed", name))
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	seeds = append(seeds, []byte(fiveProblems))
	corpus, err := filepath.Glob(filepath.Join("..", "flow", "testdata", "fuzz", "FuzzParse", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range corpus {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// The corpus format: "go test fuzz v1" and a line []byte("…").
		_, lit, _ := bytes.Cut(b, []byte("[]byte("))
		s, err := strconv.Unquote(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(lit), []byte(")")))))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

func wantNo5xx(t testing.TB, e *env, body []byte) {
	t.Helper()
	res := e.as(e.alice, "POST", "/v1.0/flows", body)
	switch res.status {
	case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
	default:
		t.Fatalf("POST %q: status %d: %s", body, res.status, res.body)
	}
}

// FuzzCreateFlow: no body makes POST /v1.0/flows answer 5xx, and every answer matches the spec. Plain `go test`
// runs it over the seeds; `go test -fuzz` explores further.
func FuzzCreateFlow(f *testing.F) {
	for _, s := range bodySeeds(f) {
		f.Add(s)
	}
	e := newEnv(f, storetest.SQLite)
	f.Fuzz(func(t *testing.T, body []byte) { wantNo5xx(t, e.withT(t), body) })
}

// TestMutatedBodies sends thousands of random mutations of the seeds (bytes changed, cut, repeated) through the
// real handler: none may answer 5xx. Deterministic, so that a failure reproduces.
func TestMutatedBodies(t *testing.T) {
	// Not in parallel: CPU-bound (many large or random requests), it gains nothing from sharing the cores, and
	// its requests could wait past the client timeout under the race detector.
	e := newEnv(t, storetest.SQLite)
	seeds := bodySeeds(t)
	r := rand.New(rand.NewSource(42))
	for i := 0; i < 3000; i++ {
		b := append([]byte{}, seeds[r.Intn(len(seeds))]...)
		switch r.Intn(4) {
		case 0: // change bytes
			for j := 0; j < 1+r.Intn(4); j++ {
				b[r.Intn(len(b))] = byte(r.Intn(256))
			}
		case 1: // cut
			b = b[:r.Intn(len(b))]
		case 2: // repeat a slice
			at := r.Intn(len(b))
			b = append(b[:at:at], append(bytes.Repeat(b[at:min(at+16, len(b))], 1+r.Intn(8)), b[at:]...)...)
		case 3: // splice two seeds
			other := seeds[r.Intn(len(seeds))]
			b = append(b[:r.Intn(len(b))], other[r.Intn(len(other)):]...)
		}
		wantNo5xx(t, e, b)
	}
}
