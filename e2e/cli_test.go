package e2e_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHelpCreatesNoFile: the binary's --help, on every command, prints usage and creates nothing in the directory
// it runs in (where the SQLite default would put flowbin.db).
func TestHelpCreatesNoFile(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"serve", "--help"}, {"migrate", "-h"}, {"user", "add", "-h"}, {"version"}} {
		dir := t.TempDir()
		cmd := exec.Command(binary, args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("flowbin %v: %v\n%s", args, err, out)
		}
		if args[0] != "version" && (!strings.Contains(string(out), "Usage:") || strings.Contains(string(out), "help requested")) {
			t.Errorf("flowbin %v printed no usage:\n%s", args, out)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("flowbin %v created %v", args, entries)
		}
	}
	cmd := exec.Command(binary, "frobnicate")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 || !strings.Contains(string(out), `unknown command "frobnicate"`) {
		t.Errorf("flowbin frobnicate: %v, want exit status 2 and the unknown command named:\n%s", err, out)
	}
}
