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
	"github.com/chromedp/chromedp/kb"

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

// browser starts a headless Chromium of the test's own (its own profile directory), stopped when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		// Containers give /dev/shm a few MiB: Chromium then stalls or crashes rendering a large page.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	// The whole test's bound; each step has its own, shorter one (page.step). Generous: the machine may be busy
	// with the rest of the suite.
	tctx, cancelTimeout := context.WithTimeout(bctx, 5*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	// Start the browser now, so that its start-up is not charged to the first step.
	if err := chromedp.Do(tctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return tctx
}

// page is the /docs page of a server, in a browser.
type page struct {
	t    *testing.T
	b    context.Context
	base string
	in   *instance
}

// step runs actions within a deadline of their own; on failure it reports the name and the page's state.
func (p *page) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.b, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		html, _ := chromedp.Run(p.b, chromedp.Evaluate[string](
			`(document.querySelector('.opblock.is-open, .modal-ux') || document.body).outerHTML.slice(0, 3000)`))
		p.t.Fatalf("Swagger UI, step %q: %v\npage:\n%s\nserver log:\n%s", name, err, html, p.in.stderr)
	}
}

// eval runs JavaScript and decodes its value.
func eval[T any](p *page, name, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.b, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("Swagger UI, %s: %v", name, err)
	}
	return v
}

// domClick clicks an element through the DOM once it is visible: Swagger UI's layout moves while it renders, so
// a click at coordinates could land beside the button.
func domClick(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).click()`, sel)),
	)
}

// retype replaces the text of an input by typing, as a user does: to its end, erase, type, leave. (Swagger UI
// takes a parameter's value only after a pause in typing, or when the input loses focus.)
func retype(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.SendKeys(chromedp.CSS(sel), kb.End+strings.Repeat(kb.Backspace, 80)+text),
		chromedp.Blur(chromedp.CSS(sel)),
	)
}

// authorize opens the Authorize dialog, types the credential into the scheme's form, submits it and closes the
// dialog.
func (p *page) authorize(scheme, value string) {
	p.t.Helper()
	p.step("open the Authorize dialog", chromedp.Click(chromedp.CSS(`.auth-wrapper .btn.authorize`)),
		chromedp.WaitVisible(chromedp.CSS(`.modal-ux .auth-container`)))
	found := eval[bool](p, "find the scheme's form", fmt.Sprintf(`(() => {
		for (const c of document.querySelectorAll('.modal-ux .auth-container')) {
			const h = c.querySelector('h4');
			if (h && h.textContent.trim().startsWith(%q)) { c.setAttribute('data-scheme', %q); return true; }
		}
		return false;
	})()`, scheme, scheme))
	if !found {
		p.t.Fatalf("the Authorize dialog has no form for %s", scheme)
	}
	form := fmt.Sprintf(`.modal-ux .auth-container[data-scheme=%q]`, scheme)
	p.step("type the "+scheme+" credential", chromedp.SendKeys(chromedp.CSS(form+` input`), value))
	p.step("authorize "+scheme, chromedp.Click(chromedp.CSS(form+` button[aria-label="Apply credentials"]`)),
		chromedp.WaitVisible(chromedp.CSS(form+` button[aria-label="Remove authorization"]`)))
	p.step("close the dialog", chromedp.Click(chromedp.CSS(`.modal-ux .btn-done`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.modal-ux`)))
}

// logout opens the Authorize dialog and logs out of every scheme.
func (p *page) logout() {
	p.t.Helper()
	p.step("open the Authorize dialog", chromedp.Click(chromedp.CSS(`.auth-wrapper .btn.authorize`)),
		chromedp.WaitVisible(chromedp.CSS(`.modal-ux .auth-container`)))
	for eval[bool](p, "find a Logout button", `!!document.querySelector('.modal-ux button[aria-label="Remove authorization"]')`) {
		p.step("log out", chromedp.Click(chromedp.CSS(`.modal-ux button[aria-label="Remove authorization"]`)))
	}
	p.step("close the dialog", chromedp.Click(chromedp.CSS(`.modal-ux .btn-done`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.modal-ux`)))
}

// answer is what Swagger UI shows of a response.
type answer struct {
	status string
	body   string
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("the response Swagger UI shows is not a JSON object: %v\n%s", err, a.body)
	}
	return v
}

// tryIt expands an operation, checks that the optional inputs named in empty start empty, types the parameters,
// clicks Execute and returns the response the page shows.
func (p *page) tryIt(opID string, params map[string]string, empty ...string) answer {
	p.t.Helper()
	op := `#operations-Flows-` + opID
	if !eval[bool](p, "is "+opID+" open", fmt.Sprintf(`!!document.querySelector(%q)`, op+`.is-open`)) {
		p.step("expand "+opID, domClick(op+` .opblock-summary-control`), chromedp.WaitVisible(chromedp.CSS(op+` .execute`)))
	}
	for _, name := range empty {
		sel := fmt.Sprintf(`%s tr[data-param-name=%q] input`, op, name)
		p.step("find the input "+name, chromedp.WaitVisible(chromedp.CSS(sel)))
		if v := eval[string](p, "read "+name, fmt.Sprintf(`document.querySelector(%q).value`, sel)); v != "" {
			p.t.Errorf("%s: the optional parameter %s starts as %q; clicking Execute would send it", opID, name, v)
		}
	}
	for name, value := range params {
		sel := fmt.Sprintf(`%s tr[data-param-name=%q] input`, op, name)
		p.step("type "+name, retype(sel, value))
		if got := eval[string](p, "read "+name, fmt.Sprintf(`document.querySelector(%q).value`, sel)); got != value {
			p.t.Fatalf("%s: typed %q into %s, the input holds %q", opID, value, name, got)
		}
	}
	// A previous answer goes first, so that the one read below is this request's.
	if eval[bool](p, "has an answer", fmt.Sprintf(`!!document.querySelector(%q)`, op+` .btn-clear`)) {
		p.step("clear "+opID, domClick(op+` .btn-clear`), chromedp.WaitNotPresent(chromedp.CSS(op+` .live-responses-table`)))
	}
	status := op + ` .live-responses-table tbody .response-col_status`
	p.step("execute "+opID, domClick(op+` .execute`), chromedp.WaitVisible(chromedp.CSS(status)))
	return eval[answer](p, "read the answer", fmt.Sprintf(`(() => {
		const op = document.querySelector(%q);
		const code = op.querySelector('.live-responses-table tbody .response-col_status').textContent.trim();
		const body = op.querySelector('.live-responses-table tbody .response-col_description pre');
		return {status: code, body: body ? body.textContent : ''};
	})()`, op))
}

// UnmarshalJSON reads the answer of tryIt's script.
func (a *answer) UnmarshalJSON(b []byte) error {
	var v struct{ Status, Body string }
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.status, a.body = v.Status, v.Body
	return nil
}

// TestDocsInChromium loads /docs in headless Chromium: every operation of the spec renders. Then a user's way
// through it: Authorize with a login token, create a flow, list the flows and see it, update it, delete it and no
// longer see it; an access key works the same way, and without credentials the API answers 401.
func TestDocsInChromium(t *testing.T) {
	in := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "docs-password"})
	token, key := credentials(t, in.url, "docs-password")
	p := &page{t: t, b: browser(t), base: in.url, in: in}

	p.step("load /docs", chromedp.Navigate(in.url+"/docs"), chromedp.WaitVisible(chromedp.CSS(`#operations-Flows-listFlows`)))
	rendered := eval[int](p, "count the operations", `document.querySelectorAll('.opblock').length`)
	title := eval[string](p, "read the title", `document.querySelector('.info .title').textContent`)
	if want := len(apitest.MustLoad().OperationIDs()); rendered != want || !strings.Contains(title, "flowbin API") {
		t.Fatalf("rendered %d operations titled %q, want %d of \"flowbin API\"", rendered, title, want)
	}
	if *updateScreenshot {
		// The operations, under the authorize bar.
		p.step("scroll", chromedp.Evaluate[chromedp.Void](`document.querySelector('.scheme-container').scrollIntoView()`))
		png, err := chromedp.Run(p.b, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "images", "swagger-ui.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	p.authorize("BearerAuth", token)

	created := p.tryIt("createFlow", nil, "Idempotency-Key")
	if created.status != "200" {
		t.Fatalf("create: status %s, want 200\n%s", created.status, created.body)
	}
	flow := created.json(t)
	id, _ := flow["id"].(string)
	name, _ := flow["name"].(string)
	if len(id) != 36 || name == "" {
		t.Fatalf("create: the answer has no id and name: %v", flow)
	}

	listed := p.tryIt("listFlows", nil, "page_token")
	if listed.status != "200" || !strings.Contains(listed.body, id) || !strings.Contains(listed.body, `"name": "`+name+`"`) {
		t.Fatalf("list after create: status %s, want 200 with flow %s (%q):\n%s", listed.status, id, name, listed.body)
	}

	updated := p.tryIt("updateFlow", map[string]string{"id": id}, "If-Match")
	if updated.status != "200" {
		t.Fatalf("update: status %s, want 200\n%s", updated.status, updated.body)
	}
	if f := updated.json(t); f["id"] != id || f["revision"] != float64(2) || f["tm_update"] == "" {
		t.Errorf("update: got %v, want flow %s at revision 2 with tm_update set", f, id)
	}

	if deleted := p.tryIt("deleteFlow", map[string]string{"id": id}, "If-Match"); deleted.status != "204" {
		t.Fatalf("delete: status %s, want 204\n%s", deleted.status, deleted.body)
	}
	if listed := p.tryIt("listFlows", nil); listed.status != "200" || strings.Contains(listed.body, id) {
		t.Fatalf("list after delete: status %s, want 200 without flow %s:\n%s", listed.status, id, listed.body)
	}

	// An access key, through the same dialog.
	p.logout()
	p.authorize("AccesskeyQuery", key)
	if listed := p.tryIt("listFlows", nil); listed.status != "200" || !strings.Contains(listed.body, `"result"`) {
		t.Errorf("list with an access key: status %s, want 200:\n%s", listed.status, listed.body)
	}

	// Without credentials.
	p.logout()
	if listed := p.tryIt("listFlows", nil); listed.status != "401" {
		t.Errorf("list without credentials: status %s, want 401:\n%s", listed.status, listed.body)
	}
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
