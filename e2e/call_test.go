package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// terminal is a program running on a pseudo-terminal, as a person at a keyboard runs it.
type terminal struct {
	t    *testing.T
	tty  *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan error
}

func startTerminal(t *testing.T, env []string, args ...string) *terminal {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, tty: tty, cmd: cmd, done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { term.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		tty.Close()
	})
	return term
}

func (term *terminal) screen() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// waitFor waits until the screen shows s n times.
func (term *terminal) waitFor(s string, n int) {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(term.screen(), s) < n {
		if time.Now().After(deadline) {
			term.t.Fatalf("the terminal never showed %q %d times:\n%s", s, n, term.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// press types keys and Enter, as a person does.
func (term *terminal) press(keys string) {
	term.t.Helper()
	if _, err := io.WriteString(term.tty, keys+"\r"); err != nil {
		term.t.Fatal(err)
	}
}

func (term *terminal) exit() {
	term.t.Helper()
	select {
	case err := <-term.done:
		if err != nil {
			term.t.Fatalf("flowbin call: %v\n%s", err, term.screen())
		}
	case <-time.After(20 * time.Second):
		term.t.Fatalf("flowbin call did not exit:\n%s", term.screen())
	}
}

// TestCallInTerminal drives `flowbin call` on a pseudo-terminal through the console's IVR template: a stored flow
// by its id (a wrong key first, so the menu repeats; then 1 for sales), and the same flow from its file.
func TestCallInTerminal(t *testing.T) {
	in := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "call-password"})
	token, key := credentials(t, in.url, "call-password")
	ivr := filepath.Join("..", "console", "src", "templates", "ivr.json")
	doc, err := os.ReadFile(ivr)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", in.url+"/v1.0/flows", strings.NewReader(string(doc)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var flow struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&flow); err != nil || res.StatusCode != 200 {
		t.Fatalf("create the IVR: %d %v", res.StatusCode, err)
	}
	res.Body.Close()

	t.Run("stored flow, access key", func(t *testing.T) {
		term := startTerminal(t, []string{"FLOWBIN_SERVER=" + in.url, "FLOWBIN_TOKEN=" + key}, "call", flow.ID)
		term.waitFor("digits> ", 1)
		if s := term.screen(); !strings.Contains(s, `says "Welcome. Press 1 for sales, or 2 for support."`) || !strings.Contains(s, "answers") {
			t.Fatalf("before the first digits, the screen shows:\n%s", s)
		}
		term.press("5")
		term.waitFor("digits> ", 2)
		term.press("1")
		term.waitFor("call ended:", 1)
		term.exit()
		s := term.screen()
		for _, want := range []string{
			`voipbin.call.digits is "5", which no target matches`,
			"jump 1 of 2",
			`voipbin.call.digits is "1": target_ids["1"]`,
			`says "Connecting you to sales."`,
			"hangs up",
			"call ended: hangup (10 actions)",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("the screen lacks %q:\n%s", want, s)
			}
		}
		if strings.Contains(s, "Connecting you to support") {
			t.Errorf("the call went to support:\n%s", s)
		}
	})

	t.Run("the README's call", func(t *testing.T) {
		readme, err := os.ReadFile(filepath.Join("..", "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile("(?s)```text\n(\\$ FLOWBIN_TOKEN=\\$KEY bin/flowbin call \\$FLOW_ID\n.*?)```").FindSubmatch(readme)
		if m == nil {
			t.Fatal("the README lost its flowbin call transcript")
		}
		lines := strings.Split(string(m[1]), "\n")
		want := strings.Join(lines[2:], "\n") // after the command and its line of ids
		term := startTerminal(t, []string{"FLOWBIN_SERVER=" + in.url, "FLOWBIN_TOKEN=" + key}, "call", flow.ID)
		term.waitFor("digits> ", 1)
		term.press("1")
		term.waitFor("call ended:", 1)
		term.exit()
		if got := strings.ReplaceAll(term.screen(), "\r\n", "\n"); !strings.Contains(got, want) {
			t.Errorf("the terminal shows\n%s\nnot what the README shows:\n%s", got, want)
		}
	})

	t.Run("flow file, password", func(t *testing.T) {
		term := startTerminal(t, []string{"FLOWBIN_SERVER=" + in.url, "FLOWBIN_PASSWORD=call-password"}, "call", ivr)
		term.waitFor("digits> ", 1)
		term.press("2")
		term.waitFor("call ended:", 1)
		term.exit()
		if s := term.screen(); !strings.Contains(s, `target_ids["2"]`) || !strings.Contains(s, `says "Connecting you to support."`) ||
			!strings.Contains(s, "calling "+ivr) {
			t.Errorf("the screen:\n%s", s)
		}
	})

	t.Run("Ctrl+C hangs up", func(t *testing.T) {
		term := startTerminal(t, []string{"FLOWBIN_SERVER=" + in.url, "FLOWBIN_TOKEN=" + key}, "call", flow.ID)
		term.waitFor("digits> ", 1)
		if _, err := io.WriteString(term.tty, "\x03"); err != nil {
			t.Fatal(err)
		}
		term.waitFor("call ended: stopped", 1)
		term.exit()
	})

	t.Run("no credentials", func(t *testing.T) {
		cmd := exec.Command(binary, "call", flow.ID)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "FLOWBIN_SERVER=" + in.url}
		out, err := cmd.CombinedOutput()
		if code := exitCode(err); code != 2 || !strings.Contains(string(out), "no credentials") {
			t.Errorf("exit %d, %s; want 2 and a word on credentials", code, out)
		}
	})
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
