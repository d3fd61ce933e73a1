package main

import (
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
	var tutorial, keys, validate, warnings string
	for _, b := range blocks {
		switch {
		case strings.Contains(b, "# Log in:"):
			tutorial = b
		case strings.Contains(b, "accesskey=$KEY"):
			keys = b
		case strings.Contains(b, "/v1.0/flows/validate"):
			validate = b
		case strings.Contains(b, "field_validation=Strict"):
			warnings = b
		}
	}
	if tutorial == "" || keys == "" || validate == "" || warnings == "" {
		t.Fatalf("the README lost a snippet: %d blocks", len(blocks))
	}
	s := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "flowbin"})
	script := "set -euo pipefail\n" + strings.Replace(tutorial, "BASE=http://127.0.0.1:8080", "BASE="+s.url, 1) +
		"\necho ---keys\n" + keys + "\necho ---validate\n" + validate + "\necho ---warnings\n" + warnings
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
		`Warning: 299 flowbin "/flow_name: unknown field \"flow_name\" was dropped`, // warnings
		`Warning: 299 flowbin "/actions/1/option/loop_count: goto without loop_count never jumps`,
		`"pointer":"/flow_name","reason":"UNKNOWN_FIELD"`,
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

// TestREADMEConfiguration: the README's table lists every variable, with its default.
func TestREADMEConfiguration(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, v := range configVars {
		def := "(empty)"
		if v.def != "" {
			def = "`" + v.def + "`"
		}
		row := regexp.MustCompile("(?m)^\\| `" + v.name + "`[^|]*\\| " + regexp.QuoteMeta(def) + " \\|")
		if !row.MatchString(readme) {
			t.Errorf("the README's configuration table has no row for %s with default %s", v.name, def)
		}
	}
}
