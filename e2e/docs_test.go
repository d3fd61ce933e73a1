package e2e_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flowbin/flowbin/internal/apitest"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "rewrite docs/images/swagger-ui.png")

// chromium returns the browser to drive: Debian's chromium package. Without it the browser test skips, except
// under CI=true, where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium (apt-get install chromium chromium-driver); CI=true, so this fails")
	}
	t.Skip("no Chromium installed (apt-get install chromium chromium-driver)")
	return ""
}

func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	tctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	return tctx
}

// TestDocsInChromium loads /docs in headless Chromium: every operation of the spec renders, and "Try it out"
// calls the server with a login token (bearer) and with an access key (query).
func TestDocsInChromium(t *testing.T) {
	in := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "docs-password"})
	token, key := credentials(t, in.url, "docs-password")
	b := browser(t)

	err := chromedp.Do(b, chromedp.Navigate(in.url+"/docs"), chromedp.WaitVisible(chromedp.CSS(`.opblock`)))
	if err != nil {
		t.Fatalf("load /docs: %v\n%s", err, in.stderr)
	}
	rendered, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll('.opblock').length`))
	if err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(`.info .title`)))
	if err != nil {
		t.Fatal(err)
	}
	want := len(apitest.MustLoad().OperationIDs())
	if rendered != want || !strings.Contains(title, "flowbin API") {
		t.Fatalf("rendered %d operations titled %q, want %d of \"flowbin API\"", rendered, title, want)
	}

	if *updateScreenshot {
		// The operations, under the authorize bar.
		err := chromedp.Do(b, chromedp.Evaluate[chromedp.Void](`document.querySelector('.scheme-container').scrollIntoView()`))
		if err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(b, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "images", "swagger-ui.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, auth := range []struct{ scheme, value string }{{"BearerAuth", token}, {"AccesskeyQuery", key}} {
		t.Run(auth.scheme, func(t *testing.T) {
			status := tryListFlows(t, b, in.url, auth.scheme, auth.value)
			if status != "200" {
				t.Errorf("Try it out of listFlows with %s: status %q, want 200", auth.scheme, status)
			}
		})
	}
	t.Run("no credentials", func(t *testing.T) {
		if status := tryListFlows(t, b, in.url, "", ""); status != "401" {
			t.Errorf("Try it out without credentials: status %q, want 401", status)
		}
	})
}

// tryListFlows opens a fresh /docs page, authorizes Swagger UI with one scheme (none when scheme is ""), expands
// listFlows, clicks "Execute" (the page has "Try it out" on from the start), and returns the status code the page
// shows.
func tryListFlows(t *testing.T, b context.Context, base, scheme, value string) string {
	t.Helper()
	authorize := `window.ui.authActions.logout(["BearerAuth","TokenQuery","AccesskeyQuery"]);`
	if scheme != "" {
		authorize += fmt.Sprintf(`window.ui.preauthorizeApiKey(%q, %q);`, scheme, value)
	}
	const op = `#operations-Flows-listFlows`
	// Clicks go through the DOM (element.click()): Swagger UI's layout moves while it renders.
	click := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.WaitVisible(chromedp.CSS(sel)),
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).click()`, sel)),
		)
	}
	steps := []struct {
		name string
		do   chromedp.Action[chromedp.Void]
	}{
		{"load", chromedp.Steps(chromedp.Navigate(base+"/docs"), chromedp.WaitVisible(chromedp.CSS(op)))},
		{"authorize", chromedp.Evaluate[chromedp.Void](authorize)},
		{"expand", click(op + ` .opblock-summary-control`)},
		{"execute", click(op + ` .execute`)},
		{"response", chromedp.WaitVisible(chromedp.CSS(op + ` .live-responses-table tbody .response-col_status`))},
	}
	for _, s := range steps {
		sctx, cancel := context.WithTimeout(b, 15*time.Second)
		err := chromedp.Do(sctx, s.do)
		cancel()
		if err != nil {
			html, _ := chromedp.Run(b, chromedp.Evaluate[string](fmt.Sprintf(
				`(document.querySelector(%q) || document.body).outerHTML.slice(0, 4000)`, op)))
			t.Fatalf("try it out, step %q: %v\n%s", s.name, err, html)
		}
	}
	status, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(op+` .live-responses-table tbody .response-col_status`)))
	if err != nil {
		t.Fatalf("try it out: %v", err)
	}
	return strings.TrimSpace(status)
}

// credentials logs in and creates an access key, over plain HTTP.
func credentials(t *testing.T, base, password string) (token, key string) {
	t.Helper()
	post := func(path, auth, body string) map[string]any {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %v %v", path, res.StatusCode, v, err)
		}
		return v
	}
	token = post("/auth/login", "", `{"username":"admin","password":"`+password+`"}`)["token"].(string)
	key = post("/v1.0/accesskeys", token, `{"name":"docs","expire":86400}`)["token"].(string)
	return token, key
}
