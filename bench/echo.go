package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
)

// The bare Echo handler is the floor of an answer in flowbin's HTTP stack: an Echo v4 server on loopback whose one
// route answers GET /v1.0/flows/:id with a fixed JSON body (no authentication, no store, no cache lookup). It is
// this program run again as a process of its own (BENCH_ECHO_BODY names the body's file), so that it shares the
// CPUs with the load generator as flowbin does, and its CPU time is its own.
const echoBodyEnv = "BENCH_ECHO_BODY"

// serveBareEcho is the child process: it serves until SIGTERM, after printing where it listens.
func serveBareEcho(bodyPath string) error {
	body, err := os.ReadFile(bodyPath)
	if err != nil {
		return err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/v1.0/flows/:id", func(c echo.Context) error {
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	fmt.Printf("bare echo listening on http://%s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bareEcho is the running child.
type bareEcho struct {
	base string
	cmd  *exec.Cmd
	done chan struct{}
}

func startBareEcho(ctx context.Context, dir string, body []byte) (*bareEcho, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "echo-body.json")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), echoBodyEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the bare Echo server: %w", err)
	}
	b := &bareEcho{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "bare echo listening on "); ok {
				select {
				case found <- rest:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(b.done)
	}()
	select {
	case b.base = <-found:
		return b, nil
	case <-b.done:
		return nil, errors.New("the bare Echo server exited before listening")
	case <-time.After(30 * time.Second):
		b.stop()
		return nil, errors.New("the bare Echo server did not listen within 30 s")
	case <-ctx.Done():
		b.stop()
		return nil, ctx.Err()
	}
}

func (b *bareEcho) pid() int { return b.cmd.Process.Pid }

func (b *bareEcho) stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}
