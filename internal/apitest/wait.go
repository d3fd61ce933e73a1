package apitest

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, and answers how long that took; when within passes first, it fails t,
// saying what it waited for. It is what a test does instead of a fixed sleep: it waits for what another
// goroutine, instance or database does in its own time, no longer than needed, and fails instead of hanging when
// that never happens. Call it from the test's goroutine.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for pause := time.Millisecond; !cond(); pause = min(2*pause, 20*time.Millisecond) {
		if time.Since(start) > within {
			t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(pause)
	}
	return time.Since(start)
}
