package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// The console scenario (issue 27): how long after the start of its load a flow of consoleActions actions is
// interactive in the console (drawn and editable: the page's "flow-interactive" performance mark), in Debian's
// headless Chromium, over consoleLoads full loads of the page. The browser test (e2e) checks that the page gets
// there and draws every action; the time is measured here, on a machine doing nothing else.
const (
	consoleActions   = 200
	consoleLoads     = 15
	targetConsoleP50 = time.Second
	whatConsole      = "console: a 200-action flow's page interactive, p50 (headless Chromium)"
	refConsoleBudget = "a 1 s budget"
)

// consoleFlow creates the flow, opens the console on it consoleLoads times and records when each load became
// interactive. Without Chromium it measures nothing and says why (the target then fails).
func (c *calls) consoleFlow() (Result, error) {
	res := Result{Name: "console: a 200-action flow, interactive after the page's start", Statuses: map[string]int{}}
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		logf("  no Chromium (apt-get install chromium): the console is not measured")
		res.Errors, res.Sample = 1, "no Chromium installed (apt-get install chromium)"
		return res, nil
	}
	var body strings.Builder
	body.WriteString(`{"name":"bench two hundred","actions":[{"type":"answer"}`)
	for i := 1; i < consoleActions-1; i++ {
		fmt.Fprintf(&body, `,{"type":"talk","name":"step %d","option":{"text":"line %d"}}`, i, i)
	}
	body.WriteString(`,{"type":"hangup"}]}`)
	var f apiFlow
	if err := c.a.call(c.ctx, http.MethodPost, "/v1.0/flows", []byte(body.String()), &f); err != nil {
		return res, err
	}

	profile, err := os.MkdirTemp("", "flowbin-bench-chromium-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(profile)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(profile),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(c.ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 5*time.Minute)
	defer cancel()

	// Signed in as the bench's user: the console keeps its token in the tab's sessionStorage.
	err = chromedp.Do(ctx, chromedp.Navigate(c.a.base+"/console"))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(sessionStorage.setItem("flowbin.token", %q), true)`, c.a.token)))
	}
	if err != nil {
		return res, fmt.Errorf("open the console in Chromium: %w", err)
	}
	var lat []time.Duration
	start := time.Now()
	for i := range consoleLoads + 1 {
		err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(c.a.base+"/console#/flows/"+f.ID))
		if err != nil {
			return res, fmt.Errorf("load the flow's page: %w", err)
		}
		ms, err := interactiveAt(ctx)
		if err != nil {
			return res, err
		}
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.graph .node').length`)); err != nil || n != consoleActions {
			return res, fmt.Errorf("the flow's page draws %d actions (%v), want %d", n, err, consoleActions)
		}
		if i > 0 { // the first load fills the browser's cache, as a person's first visit does
			lat = append(lat, time.Duration(ms*float64(time.Millisecond)))
		}
	}
	res.Elapsed = time.Since(start)
	res.Requests = len(lat)
	slices.Sort(lat)
	res.setLatencies(lat)
	return res, nil
}

// interactiveAt waits for the page's "flow-interactive" mark and answers its time, in milliseconds from the start
// of the page's load.
func interactiveAt(ctx context.Context) (float64, error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](
			`(performance.getEntriesByName('flow-interactive')[0] || {startTime: -1}).startTime`))
		if err != nil {
			return 0, err
		}
		if ms >= 0 {
			return ms, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, errors.New("the flow's page was not interactive within 30 s")
}
