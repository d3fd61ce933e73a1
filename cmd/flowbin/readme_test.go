package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// shellBlocks returns the ```sh blocks of the README, in order.
func shellBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// TestREADMETutorial pastes the README's tutorial, access-key and validation snippets into bash against a server
// started as `make run` starts it: every command must work as the README says.
func TestREADMETutorial(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	blocks := shellBlocks(t)
	var tutorial, keys, validate string
	for _, b := range blocks {
		switch {
		case strings.Contains(b, "# Log in:"):
			tutorial = b
		case strings.Contains(b, "accesskey=$KEY"):
			keys = b
		case strings.Contains(b, "/v1.0/flows/validate"):
			validate = b
		}
	}
	if tutorial == "" || keys == "" || validate == "" {
		t.Fatalf("the README lost a snippet: %d blocks", len(blocks))
	}
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "flowbin"})
	script := "set -euo pipefail\n" + strings.Replace(tutorial, "BASE=http://127.0.0.1:8080", "BASE="+s.url, 1) +
		"\necho ---keys\n" + keys + "\necho ---validate\n" + validate
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("the tutorial fails: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		`"name":"test flow"`, `"tm_update":""`, // create
		`"name":"test flow update"`,                                                                  // update
		"204",                                                                                        // delete
		`"reason":"INVALID_ACTION_TYPE"`, `"pointer":"/actions/1/option/target_id"`, `"valid":false`, // validate
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the output lacks %s:\n%s", want, text)
		}
	}
	keysOut := text[strings.Index(text, "---keys"):strings.Index(text, "---validate")]
	if strings.Count(keysOut, `"result":[`) != 2 {
		t.Errorf("the access key snippet does not list flows twice:\n%s", keysOut)
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
