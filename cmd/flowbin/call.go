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
	"strings"
	"time"
)

// callLong is the description of `flowbin call` in its help.
const callLong = `Calls a flow on a flowbin server and plays the phone: it starts an activeflow (with the start variables of
--var), prints each action as it runs (what a talk says, what a play plays, each decision of a branch or
condition), reads digits from the keyboard when a digits_receive waits (type them, then Enter: as a phone, it
sends at most the action's length digits and stops at its key, which it sends), and prints how the call ended.
FLOW_FILE is a flow as JSON (the body of a create); its actions run inline, nothing is stored.

Without --token, FLOWBIN_USERNAME (default admin) and FLOWBIN_PASSWORD log in.`

// callOptions are the flags of `flowbin call`.
type callOptions struct {
	server, token string
	vars          []string // NAME=VALUE
}

// callActiveflow is what `flowbin call` reads of an activeflow.
type callActiveflow struct {
	ID              string            `json:"id"`
	Status          string            `json:"status"`
	EndReason       string            `json:"end_reason"`
	CurrentAction   *callAction       `json:"current_action"`
	ExecutedActions []callAction      `json:"executed_actions"`
	Variables       map[string]string `json:"variables"`
}

type callAction struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Step     *int           `json:"step"`
	Option   map[string]any `json:"option"`
	Decision *struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	} `json:"decision"`
}

// callClient talks to the server's API with one credential.
type callClient struct {
	server, token string
	http          *http.Client
}

func (c *callClient) do(ctx context.Context, method, path string, body any, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		var env struct {
			Error struct {
				Reason, Message string
				Details         []struct{ Pointer, Message string }
			}
		}
		if json.Unmarshal(data, &env) == nil && env.Error.Reason != "" {
			msg := fmt.Sprintf("%s %s: %d %s: %s", method, path, res.StatusCode, env.Error.Reason, env.Error.Message)
			for _, d := range env.Error.Details {
				msg += fmt.Sprintf("\n  %s: %s", d.Pointer, d.Message)
			}
			return errors.New(msg)
		}
		return fmt.Errorf("%s %s: %d", method, path, res.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// runCall is `flowbin call`: the phone of a call, in a terminal.
func runCall(ctx context.Context, opts callOptions, target string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	vars, err := startVariables(opts.vars)
	if err != nil {
		return usageError{fmt.Errorf("call: %w", err)}
	}
	c, err := apiClient(ctx, "call", opts.server, opts.token, getenv)
	if err != nil {
		return err
	}

	start, what, err := callStart(target)
	if err != nil {
		return err
	}
	if len(vars) > 0 {
		start["variables"] = vars
	}
	var af callActiveflow
	if err := c.do(ctx, http.MethodPost, "/v1.0/activeflows", start, &af); err != nil {
		return fmt.Errorf("call: start: %w", err)
	}
	fmt.Fprintf(stdout, "calling %s: activeflow %s\n", what, af.ID)
	keys := readLines(stdin)
	printed := 0 // of af.ExecutedActions
	base := 0    // the actions run before af.ExecutedActions[0]: the answer of next holds only what its report moved to
	for {
		// Every action run since the last answer, up to the one the phone performs now.
		cur := af.CurrentAction
		running := af.Status == "running" && cur != nil
		for ; printed < len(af.ExecutedActions); printed++ {
			a := af.ExecutedActions[printed]
			if running && printed == len(af.ExecutedActions)-1 && a.ID == cur.ID {
				break
			}
			what := describeAction(a)
			if a.Decision != nil {
				what = a.Decision.Reason
			}
			fmt.Fprintf(stdout, "%3d. %-16s %s\n", stepOf(a, base+printed), a.Type, what)
		}
		if !running {
			fmt.Fprintf(stdout, "call ended: %s (%d actions)\n", af.EndReason, base+len(af.ExecutedActions))
			return nil
		}
		fmt.Fprintf(stdout, "%3d. %-16s %s\n", stepOf(*cur, base+printed), cur.Type, describeAction(*cur))
		printed = len(af.ExecutedActions)
		report := map[string]any{"current_action_id": cur.ID}
		if cur.Step != nil {
			report["step"] = *cur.Step
		}
		if cur.Type == "digits_receive" {
			fmt.Fprint(stdout, "     digits> ")
			var line string
			var ok bool
			select {
			case line, ok = <-keys:
			case <-ctx.Done(): // Ctrl+C while the call waits for digits: hang up
				fmt.Fprintln(stdout)
				return c.stop(af.ID, stdout)
			}
			if !ok {
				fmt.Fprintln(stdout, "(no more input: hanging up)")
				return c.stop(af.ID, stdout)
			}
			report["variables"] = map[string]string{"voipbin.call.digits": phoneDigits(line, cur.Option)}
		}
		if ctx.Err() != nil {
			return c.stop(af.ID, stdout)
		}
		if err := c.do(ctx, http.MethodPost, "/v1.0/activeflows/"+af.ID+"/next", report, &af); err != nil {
			if ctx.Err() != nil {
				return c.stop(af.ID, stdout)
			}
			return fmt.Errorf("call: report %s: %w", cur.Type, err)
		}
		// The answer of next holds only the actions this report moved to.
		base, printed = stepOf(*cur, base+printed-1), 0
	}
}

// startVariables reads --var NAME=VALUE flags into the variables an activeflow starts with.
func startVariables(flags []string) (map[string]string, error) {
	vars := map[string]string{}
	for _, f := range flags {
		name, value, ok := strings.Cut(f, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("--var %q: want NAME=VALUE", f)
		}
		vars[name] = value
	}
	return vars, nil
}

// phoneDigits is what a phone sends for the keys typed on a line while a digits_receive waits: the keys of a
// keypad (0-9, *, #, A-D; anything else is not a key and is skipped), at most the action's length of them, and
// none after its key, which ends the input and is sent (as VoIPbin's condition_call_digits looks for it).
func phoneDigits(line string, option map[string]any) string {
	length := 0
	if n, ok := option["length"].(float64); ok && n > 0 {
		length = int(n)
	}
	key, _ := option["key"].(string)
	var digits strings.Builder
	for _, r := range line {
		if !strings.ContainsRune("0123456789*#ABCDabcd", r) {
			continue
		}
		digits.WriteString(strings.ToUpper(string(r)))
		if (length > 0 && digits.Len() >= length) || (key != "" && strings.EqualFold(string(r), key)) {
			break
		}
	}
	return digits.String()
}

// readLines sends each line of r (without waiting for anyone to ask: keys typed ahead are kept, as on a phone),
// and closes the channel at the end of the input.
func readLines(r io.Reader) <-chan string {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// stop hangs up: the activeflow ends as stopped. It runs on its own deadline, since the call's context may be done.
func (c *callClient) stop(id string, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var af callActiveflow
	if err := c.do(ctx, http.MethodPost, "/v1.0/activeflows/"+id+"/stop", nil, &af); err != nil {
		return fmt.Errorf("call: hang up: %w", err)
	}
	fmt.Fprintf(stdout, "call ended: %s (%d actions)\n", af.EndReason, len(af.ExecutedActions))
	return nil
}

// callStart is the body that starts the call: a stored flow by its id, or the actions of a flow file.
func callStart(arg string) (body map[string]any, what string, err error) {
	if _, statErr := os.Stat(arg); statErr != nil {
		return map[string]any{"flow_id": arg}, "flow " + arg, nil
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return nil, "", fmt.Errorf("call: %w", err)
	}
	var doc struct {
		Actions json.RawMessage `json:"actions"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Actions) == 0 {
		return nil, "", fmt.Errorf("call: %s is not a flow (a JSON object with actions)", arg)
	}
	return map[string]any{"actions": doc.Actions}, arg, nil
}

func stepOf(a callAction, index int) int {
	if a.Step != nil {
		return *a.Step
	}
	return index + 1
}

// describeAction says what the phone does for a runner's action.
func describeAction(a callAction) string {
	o := a.Option
	str := func(k string) string { s, _ := o[k].(string); return s }
	switch a.Type {
	case "talk":
		return fmt.Sprintf("says %q", str("text"))
	case "play":
		urls := o["stream_urls"]
		if urls == nil {
			urls = o["stream_url"]
		}
		var list []string
		if l, ok := urls.([]any); ok {
			for _, u := range l {
				list = append(list, fmt.Sprint(u))
			}
		}
		return "plays " + strings.Join(list, ", ")
	case "digits_receive":
		s := "waits for digits"
		if n, ok := o["length"].(float64); ok && n > 0 {
			s += fmt.Sprintf(" (%d)", int(n))
		}
		if k := str("key"); k != "" {
			s += ", ending with " + k
		}
		return s
	case "answer":
		return "answers"
	case "hangup":
		return "hangs up"
	}
	if len(o) == 0 {
		return ""
	}
	b, _ := json.Marshal(o)
	return string(b)
}

// apiClient finds the server and the credential of a command that talks to a flowbin server (call, calls,
// recordings, mcp): --server
// or FLOWBIN_SERVER, and --token or FLOWBIN_TOKEN (a login token or an access key), or else a login with
// FLOWBIN_USERNAME and FLOWBIN_PASSWORD.
func apiClient(ctx context.Context, cmd, server, token string, getenv func(string) string) (*callClient, error) {
	if server == "" {
		server = getenv("FLOWBIN_SERVER")
	}
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	if token == "" {
		token = getenv("FLOWBIN_TOKEN")
	}
	// A minute: long enough to download a recording's WAV file.
	c := &callClient{server: strings.TrimRight(server, "/"), token: token, http: &http.Client{Timeout: 60 * time.Second}}
	if c.token == "" {
		password := getenv("FLOWBIN_PASSWORD")
		if password == "" {
			return nil, usageError{fmt.Errorf("%s: no credentials: set FLOWBIN_TOKEN (a token or an access key), or --token, or FLOWBIN_PASSWORD", cmd)}
		}
		username := getenv("FLOWBIN_USERNAME")
		if username == "" {
			username = "admin"
		}
		var login struct{ Token string }
		if err := c.do(ctx, http.MethodPost, "/auth/login", map[string]string{"username": username, "password": password}, &login); err != nil {
			return nil, fmt.Errorf("%s: log in: %w", cmd, err)
		}
		c.token = login.Token
	}
	return c, nil
}
