package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runProgram runs the program with an environment of its own, and returns its standard output and log.
func runProgram(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, log strings.Builder
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	p := &program{getenv: getenv(env), environ: environ, stdin: strings.NewReader(stdin), stdout: &out, stderr: &log}
	err = p.run(context.Background(), args)
	return out.String(), log.String(), err
}

// TestHelpTouchesNothing: --help (and -h) on every command prints its usage and neither opens a database nor
// creates a file.
func TestHelpTouchesNothing(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"FLOWBIN_DATA_DIR": dir, "FLOWBIN_ADDR": "127.0.0.1:0"}
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"serve", "--help"}, {"migrate", "--help"}, {"migrate", "-h"},
		{"user", "--help"}, {"user", "add", "--help"}, {"user", "add", "-h"}, {"user", "list", "--help"},
		{"user", "passwd", "--help"}, {"version", "--help"}, {"healthcheck", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, log, err := runProgram(t, env, "", args...)
			if err != nil {
				t.Fatalf("got error %v, want usage", err)
			}
			if !strings.Contains(out, "Usage:") || strings.Contains(out, "help requested") {
				t.Errorf("got %q, want a usage text", out)
			}
			if log != "" {
				t.Errorf("help logged %q", log)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("help created %v", entries)
			}
		})
	}
	out, _, _ := runProgram(t, env, "", "--help")
	for _, want := range []string{"serve", "migrate", "user", "version", "FLOWBIN_METRICS_ADDR", "FLOWBIN_JWT_SECRET (secret)", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if !strings.Contains(out, want) {
			t.Errorf("flowbin --help lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = runProgram(t, env, "", "user", "add", "--help")
	for _, want := range []string{"--customer", "--username", "--password-stdin", "echo 'a long password' | flowbin user add"} {
		if !strings.Contains(out, want) {
			t.Errorf("flowbin user add --help lacks %q:\n%s", want, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	env := map[string]string{"FLOWBIN_DATA_DIR": t.TempDir()}
	for _, args := range [][]string{
		{"frobnicate"}, {"--frobnicate"}, {"serve", "extra"}, {"user"}, {"user", "frobnicate"},
		{"user", "add", "--username", "x", "--password-stdin"}, {"user", "add", "--customer", "c", "--username", "x"},
		{"user", "passwd", "--password-stdin"}, {"user", "list", "extra"}, {"version", "extra"},
	} {
		_, _, err := runProgram(t, env, "pw\n", args...)
		if _, ok := err.(usageError); !ok {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runProgram(t, map[string]string{}, "", "version")
	if err != nil || !strings.HasPrefix(out, "flowbin ") || len(strings.TrimSpace(out)) <= len("flowbin ") {
		t.Errorf("version: %q %v", out, err)
	}
}

// TestUnknownSettings: a misspelled FLOWBIN_* variable is reported at start, with the setting it resembles.
func TestUnknownSettings(t *testing.T) {
	env := map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADRR": "127.0.0.1:1", "FLOWBIN_JWT_SECRET_FIEL": "x",
		"FLOWBIN_COMPLETELY_DIFFERENT": "1", "FLOWBIN_ADMIN_PASSWORD_FILE": ""}
	_, log, err := runProgram(t, env, "", "migrate")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"FLOWBIN_ADRR is not a flowbin setting; did you mean FLOWBIN_ADDR?",
		"FLOWBIN_JWT_SECRET_FIEL is not a flowbin setting; did you mean FLOWBIN_JWT_SECRET_FILE?",
		"FLOWBIN_COMPLETELY_DIFFERENT is not a flowbin setting",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "FLOWBIN_COMPLETELY_DIFFERENT is not a flowbin setting; did you mean") ||
		strings.Contains(log, "FLOWBIN_DATA_DIR is not") || strings.Contains(log, "FLOWBIN_ADMIN_PASSWORD_FILE is not") {
		t.Errorf("known settings reported, or a far-fetched suggestion:\n%s", log)
	}
}

// TestUnmigratedDatabase: with FLOWBIN_MIGRATE=false, a database that was never migrated says what to run.
func TestUnmigratedDatabase(t *testing.T) {
	env := map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_MIGRATE": "false", "FLOWBIN_ADDR": "127.0.0.1:0"}
	for _, args := range [][]string{{"user", "list"}, {"serve"}} {
		_, _, err := runProgram(t, env, "", args...)
		if err == nil || !strings.Contains(err.Error(), "run `flowbin migrate`") {
			t.Errorf("%v on an unmigrated database: got %v, want the advice to run flowbin migrate", args, err)
		}
	}
	if _, _, err := runProgram(t, env, "", "migrate"); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runProgram(t, env, "", "user", "list"); err != nil || !strings.Contains(out, "USERNAME") {
		t.Errorf("user list after migrate: %q %v", out, err)
	}
}

// TestLoginHint: the start-up hint names a user that exists, never shows a password, and logs in when run.
func TestLoginHint(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is not installed; CI=true, so this fails")
		}
		t.Skip("curl is not installed")
	}
	dir := t.TempDir()
	env := map[string]string{"FLOWBIN_DATA_DIR": dir, "FLOWBIN_BCRYPT_COST": "4"}
	if _, _, err := runProgram(t, env, "", "migrate"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runProgram(t, env, "carols-password\n", "user", "add", "--customer", "acme", "--username", "carol", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	// Users exist, none named admin: the hint names carol, not the admin that was never created.
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": dir, "FLOWBIN_ADMIN_PASSWORD": "unused-password"})
	if !strings.HasPrefix(s.hint, "log in as carol ") || strings.Contains(s.hint, "…") || strings.Contains(s.hint, "password\":\"carols") {
		t.Fatalf("hint: %q", s.hint)
	}
	command := s.hint[strings.Index(s.hint, "): ")+3:]
	cmd := exec.Command("bash", "-c", command)
	cmd.Stdin = strings.NewReader("carols-password\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"token":"`) {
		t.Errorf("the hint's command %q: %v %s", command, err, out)
	}

	fresh := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "pw"})
	if !strings.HasPrefix(fresh.hint, "log in as admin (password: FLOWBIN_ADMIN_PASSWORD)") {
		t.Errorf("hint of a fresh database: %q", fresh.hint)
	}
}

// TestStartupLogListsEverySetting: the "starting flowbin" line has every setting of the table, secrets masked.
func TestStartupLogListsEverySetting(t *testing.T) {
	secret := "a-jwt-secret-that-is-long-enough-0123456789"
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_JWT_SECRET": secret,
		"FLOWBIN_ADMIN_PASSWORD": "visible-nowhere", "FLOWBIN_CORS_ORIGINS": "https://console.example"})
	s.shutdown(t)
	var line string
	for _, l := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(l, `msg="starting flowbin"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no start-up line:\n%s", s.stderr.String())
	}
	for _, st := range settings {
		key := strings.ToLower(strings.TrimPrefix(st.name, "FLOWBIN_")) + "="
		if !strings.Contains(line, " "+key) {
			t.Errorf("the start-up line lacks %s:\n%s", key, line)
		}
	}
	for _, want := range []string{"jwt_secret=(set)", "admin_password=(set)", "cors_origins=https://console.example"} {
		if !strings.Contains(line, want) {
			t.Errorf("the start-up line lacks %s:\n%s", want, line)
		}
	}
	if strings.Contains(s.stderr.String(), secret) || strings.Contains(s.stderr.String(), "visible-nowhere") {
		t.Errorf("a secret reached the log")
	}
}
