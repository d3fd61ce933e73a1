package main

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flowbin/flowbin/internal/apitest"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestInstancesDisagreeLoudly: two instances on one database (PostgreSQL, and one SQLite file), the second
// started with another FLOWBIN_OUTBOUND_ALLOW: its start logs the difference at ERROR, naming the setting; the same
// setting starts quietly; the database holds fingerprints only, never the values.
func TestInstancesDisagreeLoudly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		env := func(allow string) map[string]string {
			e := map[string]string{"FLOWBIN_ADMIN_PASSWORD": "pw-for-all", "FLOWBIN_OUTBOUND_ALLOW": allow}
			if b == storetest.Postgres {
				e["FLOWBIN_DATABASE_URL"] = storetest.Config(t, b).URL
			} else {
				e["FLOWBIN_DATA_DIR"] = t.TempDir()
			}
			return e
		}
		first := env("10.0.0.0/8, example.internal:8080")
		a := start(t, first)
		same := map[string]string{}
		for k, v := range first {
			same[k] = v
		}
		same["FLOWBIN_OUTBOUND_ALLOW"] = "example.internal:8080,10.0.0.0/8" // the same list, written otherwise
		b1 := start(t, same)
		other := map[string]string{}
		for k, v := range first {
			other[k] = v
		}
		other["FLOWBIN_OUTBOUND_ALLOW"] = "127.0.0.0/8"
		other["FLOWBIN_METRICS_ADDR"] = "127.0.0.1:0"
		c := start(t, other)
		for name, s := range map[string]*started{"first": a, "same": b1} {
			if strings.Contains(s.stderr.String(), "SETTING DIFFERS") {
				t.Errorf("%s instance: a difference was reported: %s", name, s.stderr.String())
			}
		}
		log := c.stderr.String()
		if !strings.Contains(log, "SETTING DIFFERS") || !strings.Contains(log, "FLOWBIN_OUTBOUND_ALLOW") || !strings.Contains(log, "ERROR") {
			t.Errorf("the instance with another allow list did not say so loudly:\n%s", log)
		}
		if strings.Contains(log, "FLOWBIN_JWT_SECRET\"") || strings.Contains(log, "setting=FLOWBIN_JWT_SECRET") {
			t.Errorf("the server secret is shared, but was reported:\n%s", log)
		}
		// The metrics say it too (and the outbox's families are there).
		m := regexp.MustCompile(`msg="serving metrics" addr=(\S+)`).FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("no metrics listener in the log:\n%s", log)
		}
		_, body := call(t, "GET", "http://"+m[1]+"/metrics", "")
		for _, want := range []string{`flowbin_settings_disagree{setting="outbound_allow"} 1`, `flowbin_settings_disagree{setting="server_secret"} 0`,
			"flowbin_outbox_dropped_total 0", "# TYPE flowbin_outbox_pending gauge"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})
}

// TestRunningInstanceHearsOfADifference: an instance that runs while another starts with another setting says so
// at its next check, and stops saying so once the database agrees with it again; fingerprints hide the values.
func TestRunningInstanceHearsOfADifference(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		st := storetest.Open(t, b)
		logs := &apitest.LogBuffer{}
		log := slog.New(slog.NewTextHandler(logs, nil))
		allow, _ := outbound.ParseAllow("10.0.0.0/8")
		mine := sharedSettings(allow, "a server secret of enough length, 32 bytes")
		a, err := newAgreement(st, log, nil, mine)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.atStart(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{settingOutboundAllow, settingServerSecret} {
			got, _ := st.Fingerprint(context.Background(), name)
			if got != mine[name] || strings.Contains(got, "10.0.0.0") || strings.Contains(got, "secret") {
				t.Errorf("%s recorded as %q", name, got)
			}
		}
		// Another instance starts with another secret.
		theirs := sharedSettings(allow, "another server secret, also 32 bytes long")
		other, _ := newAgreement(st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, theirs)
		if err := other.atStart(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); a.watch(ctx, 10*time.Millisecond) }()
		defer func() { cancel(); <-done }()
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "FLOWBIN_JWT_SECRET"); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the running instance did not report the other's secret: %s", logs.String())
			}
		}
		if strings.Contains(logs.String(), "FLOWBIN_OUTBOUND_ALLOW") {
			t.Errorf("the allow list agrees, but was reported: %s", logs.String())
		}
	})
}
