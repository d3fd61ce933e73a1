// Package e2e tests the real flowbin binary from the outside: built once, started on free ports, driven through
// the generated Go client and a headless browser.
package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowbin/flowbin/internal/apitest"
)

// binary is the flowbin binary under test, built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flowbin-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "flowbin")
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "../cmd/flowbin")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build flowbin:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is a running flowbin process.
type instance struct {
	url    string
	cmd    *exec.Cmd
	stderr *apitest.LogBuffer
	done   chan error
	once   sync.Once
}

// start runs the binary on a free port with the given environment (and nothing else of the test's).
func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	cmd := exec.Command(binary)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "FLOWBIN_ADDR=127.0.0.1:0", "FLOWBIN_BCRYPT_COST=4"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{cmd: cmd, stderr: &apitest.LogBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = in.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { in.done <- cmd.Wait() }()
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := apitest.Listening.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	select {
	case in.url = <-urls:
	case err := <-in.done:
		t.Fatalf("flowbin exited at start: %v\n%s", err, in.stderr)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("flowbin did not start\n%s", in.stderr)
	}
	t.Cleanup(func() { in.stop(t) })
	return in
}

// stop sends SIGTERM and expects a clean exit.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.once.Do(func() {
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-in.done:
			if err != nil {
				t.Errorf("flowbin exited with %v\n%s", err, in.stderr)
			}
		case <-time.After(30 * time.Second):
			in.cmd.Process.Kill()
			t.Errorf("flowbin did not stop on SIGTERM")
		}
	})
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}
