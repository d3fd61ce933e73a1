package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
)

// callsUsage is the help of `flowbin calls` and `flowbin recordings`.
const callsUsage = `usage: flowbin calls [-server URL] [-token TOKEN] [-n N]
       flowbin calls hangup [-server URL] [-token TOKEN] CALL_ID
       flowbin recordings [-server URL] [-token TOKEN] [-n N]
       flowbin recordings download [-server URL] [-token TOKEN] RECORDING_ID [FILE]

Lists the newest calls (incoming and outgoing) or recordings of a flowbin server, hangs up a call, or downloads a
recording's WAV file (to FILE, by default <RECORDING_ID>.wav; - writes it to standard output).

  -server URL    the server (FLOWBIN_SERVER; default http://127.0.0.1:8080)
  -token TOKEN   a login token or an access key (FLOWBIN_TOKEN); without one, FLOWBIN_USERNAME (default admin)
                 and FLOWBIN_PASSWORD log in
  -n N           how many to list (default 20, at most 100)`

// cliCall is what the command line shows of a call.
type cliCall struct {
	ID           string `json:"id"`
	Direction    string `json:"direction"`
	Status       string `json:"status"`
	Source       struct{ Target string }
	Destination  struct{ Target string }
	HangupBy     string `json:"hangup_by"`
	HangupReason string `json:"hangup_reason"`
	ActiveflowID string `json:"activeflow_id"`
	TMCreate     string `json:"tm_create"`
}

type cliRecording struct {
	ID          string `json:"id"`
	ReferenceID string `json:"reference_id"`
	Status      string `json:"status"`
	TMStart     string `json:"tm_start"`
	TMEnd       string `json:"tm_end"`
}

// runCalls is `flowbin calls` (kind "calls") and `flowbin recordings` (kind "recordings").
func runCalls(ctx context.Context, kind string, args []string, getenv func(string) string, stdout io.Writer) error {
	action := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	server := fs.String("server", getenv("FLOWBIN_SERVER"), "")
	token := fs.String("token", getenv("FLOWBIN_TOKEN"), "")
	n := fs.Int("n", 20, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, callsUsage)
			return nil
		}
		return usageError{fmt.Errorf("%s: %w\n%s", kind, err, callsUsage)}
	}
	want := map[string][2]int{"calls list": {0, 0}, "calls hangup": {1, 1}, "recordings list": {0, 0}, "recordings download": {1, 2}}
	nargs, known := want[kind+" "+action]
	if !known || fs.NArg() < nargs[0] || fs.NArg() > nargs[1] || *n < 1 || *n > 100 {
		return usageError{fmt.Errorf("%s %s: unknown command or wrong arguments\n%s", kind, action, callsUsage)}
	}
	c, err := apiClient(ctx, kind, *server, *token, getenv)
	if err != nil {
		return err
	}
	switch kind + " " + action {
	case "calls list":
		var page struct{ Result []cliCall }
		if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1.0/calls?page_size=%d", *n), nil, &page); err != nil {
			return fmt.Errorf("calls: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tDIRECTION\tFROM\tTO\tSTATUS\tHANGUP\tACTIVEFLOW")
		for _, x := range page.Result {
			hangup := x.HangupBy
			if x.HangupReason != "" {
				hangup += " (" + x.HangupReason + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.TMCreate, x.Direction, x.Source.Target, x.Destination.Target,
				x.Status, dash(hangup), x.ActiveflowID)
		}
		return tw.Flush()
	case "calls hangup":
		var x cliCall
		if err := c.do(ctx, http.MethodPost, "/v1.0/calls/"+fs.Arg(0)+"/hangup", nil, &x); err != nil {
			return fmt.Errorf("calls hangup: %w", err)
		}
		_, err := fmt.Fprintf(stdout, "call %s: %s\n", x.ID, x.Status)
		return err
	case "recordings list":
		var page struct{ Result []cliRecording }
		if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1.0/recordings?page_size=%d", *n), nil, &page); err != nil {
			return fmt.Errorf("recordings: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCALL\tSTATUS\tSTART\tEND")
		for _, x := range page.Result {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ID, x.ReferenceID, x.Status, x.TMStart, dash(x.TMEnd))
		}
		return tw.Flush()
	}
	id := fs.Arg(0)
	file := id + ".wav"
	if fs.NArg() == 2 {
		file = fs.Arg(1)
	}
	return downloadRecording(ctx, c, id, file, stdout)
}

// downloadRecording writes a recording's WAV file to file ("-": stdout), whole or not at all.
func downloadRecording(ctx context.Context, c *callClient, id, file string, stdout io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.server+"/v1.0/recordingfiles/"+id, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("recordings download: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var env struct {
			Error struct{ Reason, Message string }
		}
		data, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		if json.Unmarshal(data, &env) == nil && env.Error.Reason != "" {
			return fmt.Errorf("recordings download: %d %s: %s", res.StatusCode, env.Error.Reason, env.Error.Message)
		}
		return fmt.Errorf("recordings download: %d", res.StatusCode)
	}
	if file == "-" {
		_, err := io.Copy(stdout, res.Body)
		return err
	}
	tmp, err := os.CreateTemp(dirOf(file), ".flowbin-recording-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, res.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recordings download: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s: %d bytes\n", file, n)
	return err
}

func dirOf(file string) string {
	if i := strings.LastIndexAny(file, `/\`); i >= 0 {
		return file[:i+1]
	}
	return "."
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
