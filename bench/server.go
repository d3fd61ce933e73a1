package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flowbin/flowbin/internal/apitest"
)

const (
	benchUser     = "bench"
	benchPassword = "bench-password-not-secret"
)

// flowbin runs the binary under test against one database: PostgreSQL (dbURL set) or SQLite in dataDir.
type flowbin struct {
	bin     string
	dbURL   string
	dataDir string
	logPath string   // the server's stderr (warnings and errors only)
	extra   []string // more FLOWBIN_* settings of the server
}

// env is the process environment without any FLOWBIN_* variable of the caller's (a stray FLOWBIN_DATABASE_URL
// would point the run at another database), plus the run's own.
func (f *flowbin) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLOWBIN_") {
			env = append(env, kv)
		}
	}
	if f.dbURL != "" {
		env = append(env, "FLOWBIN_DATABASE_URL="+f.dbURL)
	} else {
		env = append(env, "FLOWBIN_DATA_DIR="+f.dataDir)
	}
	return append(env, extra...)
}

// run runs a command of the binary to its end.
func (f *flowbin) run(ctx context.Context, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, f.bin, args...)
	cmd.Env = f.env("FLOWBIN_LOG_LEVEL=warn", "FLOWBIN_BCRYPT_COST=4")
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("flowbin %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// buildFlowbin builds the server as a release would: trimmed paths, no cgo (its SQLite driver is pure Go).
func buildFlowbin(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./cmd/flowbin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/flowbin: %w\n%s", err, b)
	}
	return nil
}

// server is a running `flowbin serve`.
type server struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	exited  chan struct{}
	waitErr error
}

// start starts the server on a free port and waits until it says where it listens.
func (f *flowbin) start(ctx context.Context, pprofAddr string) (*server, error) {
	logFile, err := os.Create(f.logPath)
	if err != nil {
		return nil, err
	}
	extra := []string{
		"FLOWBIN_ADDR=127.0.0.1:0",
		"FLOWBIN_LOG_LEVEL=warn",
		// One login per run, but many runs a minute must not trip the limiter.
		"FLOWBIN_LOGIN_ATTEMPTS_PER_USER=1000",
		"FLOWBIN_LOGIN_ATTEMPTS_PER_ADDRESS=1000",
	}
	if pprofAddr != "" {
		extra = append(extra, "FLOWBIN_PPROF_ADDR="+pprofAddr)
	}
	extra = append(extra, f.extra...)
	cmd := exec.Command(f.bin) // not CommandContext: stop() ends it gracefully, also after ctx is done
	cmd.Env = f.env(extra...)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start flowbin: %w", err)
	}
	s := &server{cmd: cmd, logPath: f.logPath, exited: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		// Read stdout to its end, so that the server never blocks on it; only its first line matters.
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := apitest.Listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		s.waitErr = cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	select {
	case s.base = <-found:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("flowbin exited before listening (%v); its log:\n%s", s.waitErr, tail(f.logPath, 20))
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, fmt.Errorf("flowbin did not say where it listens within 60 s; its log:\n%s", tail(f.logPath, 20))
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop asks the server to shut down (SIGTERM), and kills it if it has not after 25 s.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(25 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// alive reports an early exit of the server as an error.
func (s *server) alive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("flowbin exited during the run (%v); its log:\n%s", s.waitErr, tail(s.logPath, 20))
	default:
		return nil
	}
}

// login gets the bearer token that every measured request carries.
func login(ctx context.Context, client *http.Client, base string) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": benchUser, "password": benchPassword})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/auth/login", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.Token == "" {
		return "", fmt.Errorf("login: %d %s", resp.StatusCode, truncate(string(b), 400))
	}
	return out.Token, nil
}

// call makes one request outside the measurements (set-up and sanity checks) and decodes a 2xx answer into out.
func (a *api) call(ctx context.Context, method, path string, body []byte, out any) error {
	resp, err := a.client.Do(a.request(ctx, method, path, body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, truncate(string(b), 600))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// procKB reads a memory figure (VmRSS, VmHWM) of a process, in kB, from /proc.
func procKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no " + field + " in /proc/" + strconv.Itoa(pid) + "/status")
}

// procCPU is the CPU time (user + system) a process has used, from /proc/PID/stat. Its unit is the clock tick,
// which is 1/100 s on every Linux (USER_HZ).
func procCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, errors.New("no process")
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/PID/stat")
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0, errors.New("unexpected /proc/PID/stat")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(fields[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc/PID/stat")
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
