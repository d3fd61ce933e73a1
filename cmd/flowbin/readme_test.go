package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowbin/flowbin/internal/apitest"
)

// readmeBlock is a fenced block of the README: its info string ("sh", "json output", …), its text, and the output
// block that follows it, if any.
type readmeBlock struct {
	info, text string
	line       int
	output     *readmeBlock
}

var fence = regexp.MustCompile("(?ms)^```([^\\n]*)\\n(.*?)^```\\s*$")

// readmeBlocks returns the README's fenced blocks, each output block attached to the block before it.
func readmeBlocks(t *testing.T) []*readmeBlock {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []*readmeBlock
	for _, m := range fence.FindAllSubmatchIndex(b, -1) {
		blk := &readmeBlock{info: string(b[m[2]:m[3]]), text: string(b[m[4]:m[5]]), line: 1 + bytes.Count(b[:m[0]], []byte("\n"))}
		if strings.HasSuffix(blk.info, " output") && len(blocks) > 0 {
			blocks[len(blocks)-1].output = blk
			continue
		}
		blocks = append(blocks, blk)
	}
	return blocks
}

func blocksOf(blocks []*readmeBlock, info string) []*readmeBlock {
	var out []*readmeBlock
	for _, b := range blocks {
		if b.info == info {
			out = append(out, b)
		}
	}
	return out
}

// readmeURL is where the README's server listens; the test's listens elsewhere.
const readmeURL = "http://127.0.0.1:8080"

// TestREADMETutorial runs the README as a new user would: its first shell block (`make run`) starts the server;
// every other shell block then runs, in order, in one bash, from the repository's root; what each prints must have
// the shape of the output block under it (and a block without one must print nothing). Then the Go program of the
// README runs against the same server.
func TestREADMETutorial(t *testing.T) {
	for _, tool := range []string{"curl", "jq", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed; CI=true, so this fails", tool)
			}
			t.Skipf("%s is not installed (apt-get install curl jq make)", tool)
		}
	}
	blocks := readmeBlocks(t)
	shell := blocksOf(blocks, "sh")
	if len(shell) < 10 || strings.TrimSpace(shell[0].text) != "make run" {
		t.Fatalf("the README's first shell block must start the server with make run; it has %d shell blocks", len(shell))
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	// make run's SIP listens on a free port here (FLOWBIN_SIP_ADDR overrides the Makefile's 127.0.0.1:5060).
	env := cleanEnv("FLOWBIN_DATA_DIR="+data, "FLOWBIN_ADDR=127.0.0.1:0", "FLOWBIN_BCRYPT_COST=4", "FLOWBIN_SIP_ADDR=127.0.0.1:0")
	url := makeRun(t, root, env, shell[0])

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for i, b := range shell[1:] {
		fmt.Fprintf(&script, "echo '@@block %d@@'\n%s\n", i+1, strings.ReplaceAll(b.text, readmeURL, url))
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir, cmd.Env = root, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	outputs := regexp.MustCompile(`(?m)^@@block \d+@@\n`).Split(string(out), -1)[1:]
	if err != nil {
		last := shell[len(outputs)]
		t.Fatalf("the shell block at README.md:%d fails: %v\n%s\nstderr:\n%s", last.line, err, outputs[len(outputs)-1], stderr.String())
	}
	for i, b := range shell[1:] {
		got := strings.ReplaceAll(outputs[i], url, readmeURL)
		if b.output == nil {
			if got != "" {
				t.Errorf("README.md:%d prints what the README does not show:\n%s", b.line, got)
			}
			continue
		}
		for _, problem := range matchOutput(b.output, got) {
			t.Errorf("README.md:%d: %s\ngot:\n%s", b.output.line, problem, got)
		}
	}

	t.Run("go", func(t *testing.T) {
		programs := blocksOf(blocks, "go")
		if len(programs) != 1 || programs[0].output == nil {
			t.Fatalf("want one Go program with its output in the README, got %d", len(programs))
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		dir, err := os.MkdirTemp("testdata", "readme-go-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			os.RemoveAll(dir)
			os.Remove("testdata") // when empty
		})
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(programs[0].text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("go", "run", "./"+dir)
		cmd.Env = append(os.Environ(), "FLOWBIN_URL="+url)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the README's Go program fails: %v\n%s", err, out)
		}
		for _, problem := range matchOutput(programs[0].output, string(out)) {
			t.Errorf("README.md:%d: %s\ngot:\n%s", programs[0].output.line, problem, out)
		}
	})
}

// cleanEnv is the test's environment without FLOWBIN_* variables (the reader has none), plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLOWBIN_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// makeRun runs the README's `make run` block in the repository, waits for the server, checks what it printed
// against the README, and stops it (and make) when the test ends. It returns the server's URL.
func makeRun(t *testing.T, root string, env []string, b *readmeBlock) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", b.text)
	cmd.Dir, cmd.Env = root, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // make and the server it starts, stopped together
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr apitest.LogBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Errorf("make run did not stop")
		}
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var shown []string
	timeout := time.After(3 * time.Minute) // make builds the binary first
	for len(shown) < 2 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("make run ended before serving:\n%s", stderr.String())
			}
			if len(shown) > 0 || apitest.Listening.MatchString(line) {
				shown = append(shown, line)
			}
		case <-timeout:
			t.Fatalf("make run did not serve within 3 minutes:\n%s", stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	url := apitest.Listening.FindStringSubmatch(shown[0])[1]
	got := strings.ReplaceAll(strings.Join(shown, "\n")+"\n", url, readmeURL)
	if b.output == nil {
		t.Fatal("the README does not show what make run prints")
	}
	for _, problem := range matchOutput(b.output, got) {
		t.Errorf("README.md:%d: %s\ngot:\n%s", b.output.line, problem, got)
	}
	return url
}

// matchOutput compares output with the README's output block: "json output" as a sequence of JSON values of the
// same shape, "text output" line by line. In both, "…" stands for any text; in JSON, a UUID or a timestamp stands
// for any UUID or timestamp, and an array ending in "…" for any further elements.
func matchOutput(want *readmeBlock, got string) []string {
	switch want.info {
	case "json output":
		wantValues, err := jsonValues(want.text)
		if err != nil {
			return []string{"the README's output is not JSON: " + err.Error()}
		}
		gotValues, err := jsonValues(got)
		if err != nil {
			return []string{"the output is not JSON: " + err.Error()}
		}
		if len(wantValues) != len(gotValues) {
			return []string{fmt.Sprintf("%d JSON values, the README shows %d", len(gotValues), len(wantValues))}
		}
		var problems []string
		for i := range wantValues {
			problems = append(problems, matchJSON(fmt.Sprintf("value %d", i+1), wantValues[i], gotValues[i])...)
		}
		return problems
	case "text output":
		wantLines := strings.Split(strings.TrimSuffix(want.text, "\n"), "\n")
		gotLines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if len(wantLines) != len(gotLines) {
			return []string{fmt.Sprintf("%d lines, the README shows %d", len(gotLines), len(wantLines))}
		}
		var problems []string
		for i := range wantLines {
			if !wildcard(wantLines[i]).MatchString(gotLines[i]) {
				problems = append(problems, fmt.Sprintf("line %d is %q, the README shows %q", i+1, gotLines[i], wantLines[i]))
			}
		}
		return problems
	}
	return []string{"unknown output block " + want.info}
}

func jsonValues(s string) ([]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	var values []any
	for {
		var v any
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			return values, nil
		} else if err != nil {
			return nil, err
		}
		values = append(values, v)
	}
}

var (
	uuidShape      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timestampShape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$`)
)

func wildcard(s string) *regexp.Regexp {
	parts := strings.Split(s, "…")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

func matchJSON(path string, want, got any) []string {
	mismatch := []string{fmt.Sprintf("%s is %v, the README shows %v", path, got, want)}
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		switch {
		case !ok:
			return mismatch
		case uuidShape.MatchString(w):
			ok = uuidShape.MatchString(g)
		case timestampShape.MatchString(w):
			ok = timestampShape.MatchString(g)
		default:
			ok = wildcard(w).MatchString(g)
		}
		if !ok {
			return mismatch
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return mismatch
		}
		open := len(w) > 0 && w[len(w)-1] == "…"
		if open {
			w = w[:len(w)-1]
		}
		if len(g) < len(w) || (!open && len(g) != len(w)) {
			return []string{fmt.Sprintf("%s has %d elements, the README shows %d", path, len(g), len(w))}
		}
		var problems []string
		for i := range w {
			problems = append(problems, matchJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return problems
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return mismatch
		}
		var problems []string
		for k := range g {
			if _, shown := w[k]; !shown {
				problems = append(problems, fmt.Sprintf("%s has %q, which the README does not show", path, k))
			}
		}
		for k, v := range w {
			gv, present := g[k]
			if !present {
				problems = append(problems, fmt.Sprintf("%s lacks %q, which the README shows", path, k))
				continue
			}
			problems = append(problems, matchJSON(path+"."+k, v, gv)...)
		}
		return problems
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			return mismatch
		}
	}
	return nil
}

// TestREADMEOutputMatching: the shapes of the README's output blocks accept what varies and nothing else.
func TestREADMEOutputMatching(t *testing.T) {
	js := func(s string) *readmeBlock { return &readmeBlock{info: "json output", text: s} }
	text := func(s string) *readmeBlock { return &readmeBlock{info: "text output", text: s} }
	for _, c := range []struct {
		want *readmeBlock
		got  string
		ok   bool
	}{
		{js(`{"id":"9461bda1-54fd-4e27-ab04-4186c6f72830","tm":"2026-12-01 08:36:56.541073","n":1}`),
			`{"n":1,"id":"01a230bf-f65d-711c-a4f9-140e66342970","tm":"2020-01-01 00:00:00.000000"}`, true},
		{js(`{"id":"9461bda1-54fd-4e27-ab04-4186c6f72830"}`), `{"id":"not-a-uuid"}`, false},
		{js(`{"a":1}`), `{"a":1,"b":2}`, false},
		{js(`{"a":1,"b":2}`), `{"a":1}`, false},
		{js(`{"a":1}`), `{"a":2}`, false},
		{js(`["x","…"]`), `["x","y","z"]`, true},
		{js(`["x"]`), `["x","y"]`, false},
		{js(`"eyJ…"`), `"eyJhbGciOi"`, true},
		{js(`[] []`), "[]\n", false},
		{text("USERNAME  …\nalice     …"), "USERNAME  CUSTOMER\nalice     acme\n", true},
		{text("204"), "404\n", false},
		{text("a\nb"), "a\n", false},
	} {
		if problems := matchOutput(c.want, c.got); (len(problems) == 0) != c.ok {
			t.Errorf("README %q against %q: problems %v, want ok=%v", c.want.text, c.got, problems, c.ok)
		}
	}
}

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's configuration table from the settings")

// configTable renders the settings as the README's Markdown table.
func configTable() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Meaning |\n| --- | --- | --- |\n")
	for _, s := range settings {
		name := "`" + s.name + "`"
		if s.secret {
			name += " *secret*"
		}
		def := "(empty)"
		if s.def != "" {
			def = "`" + s.def + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, def, s.help)
	}
	return b.String()
}

var readmeConfigTable = regexp.MustCompile("(?m)^\\| Variable \\| Default \\| Meaning \\|\n(?:\\|.*\n)+")

// TestREADMEConfiguration: the README's table is the settings table, row for row (-update-readme rewrites it).
func TestREADMEConfiguration(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	got := readmeConfigTable.FindString(readme)
	if got == "" {
		t.Fatal("the README has no configuration table")
	}
	want := configTable()
	if *updateREADME {
		if err := os.WriteFile("../../README.md", []byte(strings.Replace(readme, got, want, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("the README's configuration table is not the settings' (go test ./cmd/flowbin -run TestREADMEConfiguration -update-readme):\ngot:\n%s\nwant:\n%s", got, want)
	}
}
