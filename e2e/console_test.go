package e2e_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var updateConsoleScreenshots = flag.Bool("update-console-screenshots", false, "rewrite docs/images/console-*.png")

// consoleMessages collects what the page writes to its console.
type consoleMessages struct {
	mu   sync.Mutex
	list []chromedp.ConsoleMessage
}

func watchConsole(b context.Context) *consoleMessages {
	c := &consoleMessages{}
	messages := chromedp.Console(b)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.list = append(c.list, m)
			c.mu.Unlock()
		}
	}()
	return c
}

// errors are the messages that are errors, less the browser's note of each answer with an expected status (the
// console meets a 412 on purpose).
func (c *consoleMessages) errors(expected ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
next:
	for _, m := range c.list {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException && m.Type != chromedp.ConsoleWarning {
			continue
		}
		if m.Source == "network" {
			for _, status := range expected {
				if strings.Contains(m.Text, "status of "+status) {
					continue next
				}
			}
		}
		out = append(out, m.String()+" "+m.URL)
	}
	return out
}

// page wraps the browser with the steps a person takes, each failing the test with the page's state.
type consolePage struct {
	t   *testing.T
	b   context.Context
	url string
}

// newPage opens the browser's tab on the browser's own context: a tab first used on a shorter one would close
// with it.
func newPage(t *testing.T, b context.Context, url string) *consolePage {
	t.Helper()
	if err := chromedp.Do(b, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	return &consolePage{t: t, b: b, url: url}
}

func (p *consolePage) do(name string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.b, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		html, _ := chromedp.Run(p.b, chromedp.Evaluate[string](`document.body.innerText.slice(0, 3000)`))
		p.t.Fatalf("%s: %v\npage text:\n%s", name, err, html)
	}
}

func evalJS[T any](p *consolePage, js string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.b, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitJS waits until a JavaScript condition holds.
func (p *consolePage) waitJS(name, cond string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Each look has its own bound: a page that stops answering fails the step instead of hanging the test.
		ctx, cancel := context.WithTimeout(p.b, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+cond+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			text, _ := chromedp.Run(p.b, chromedp.Evaluate[string](`document.body.innerText.slice(0, 3000)`))
			p.t.Fatalf("%s: %s never held (%v)\npage text:\n%s", name, cond, err, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *consolePage) text(sel string) string {
	p.t.Helper()
	return evalJS[string](p, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))
}

// typeOver selects the first occurrence of word in the editor's line that contains line, as a person would with
// the mouse, and types replacement over it with the keyboard.
func (p *consolePage) typeOver(line, word, replacement string) {
	p.t.Helper()
	selected := evalJS[bool](p, fmt.Sprintf(`(() => {
		const l = [...document.querySelectorAll('.cm-content .cm-line')].find(e => e.textContent.includes(%q));
		if (!l) return false;
		const walker = document.createTreeWalker(l, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode()) {
			const i = n.data.indexOf(%q);
			if (i < 0) continue;
			document.querySelector('.cm-content').focus();
			const r = document.createRange();
			r.setStart(n, i); r.setEnd(n, i + %d);
			const s = getSelection(); s.removeAllRanges(); s.addRange(r);
			return true;
		}
		return false;
	})()`, line, word, len(word)))
	if !selected {
		p.t.Fatalf("no %q in an editor line with %q", word, line)
	}
	time.Sleep(150 * time.Millisecond) // CodeMirror reads the selection on selectionchange
	p.do("type "+replacement, chromedp.KeyEvent(replacement))
}

func (p *consolePage) screenshot(name string) {
	p.t.Helper()
	if !*updateConsoleScreenshots {
		return
	}
	png, err := chromedp.Run(p.b, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "docs", "images", "console-"+name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// flowOverHTTP reads a flow with the API, as another client would.
func flowOverHTTP(t *testing.T, base, token, id string) (map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1.0/flows/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var f map[string]any
	if err := json.NewDecoder(res.Body).Decode(&f); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET flow: %d %v", res.StatusCode, err)
	}
	return f, res.Header.Get("ETag")
}

// TestConsoleInChromium is a person's session in the console: log in, create a flow from the IVR template, see
// its graph, type an error and see it marked at its line, fix it, save, meet a concurrent edit (412), restore a
// revision, and try a call pressing 1, seeing the branch to sales taken. With -update-console-screenshots it
// rewrites the README's pictures.
func TestConsoleInChromium(t *testing.T) {
	in := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "console-password"})
	token, key := credentials(t, in.url, "console-password")
	b := browser(t)
	messages := watchConsole(b)
	p := newPage(t, b, in.url)

	// Log in.
	p.do("open the console", chromedp.Navigate(in.url+"/console"), chromedp.WaitVisible(chromedp.CSS(`form.login`)))
	p.do("log in",
		chromedp.SendKeys(chromedp.CSS(`#username`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "console-password"),
		chromedp.Click(chromedp.CSS(`form.login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="#/flows/new"]`)))
	if got := evalJS[string](p, `sessionStorage.getItem("flowbin.token") || ""`); got == "" || evalJS[int](p, `localStorage.length`) != 0 {
		t.Fatalf("token in sessionStorage %q, localStorage holds %d items; want the token in sessionStorage only", got, evalJS[int](p, `localStorage.length`))
	}

	// A flow from the IVR template, drawn as a graph.
	p.do("new flow", chromedp.Click(chromedp.CSS(`a[href="#/flows/new"]`)), chromedp.WaitVisible(chromedp.CSS(`button[data-template="ivr"]`)))
	p.do("from the IVR template", chromedp.Click(chromedp.CSS(`button[data-template="ivr"]`)), chromedp.WaitVisible(chromedp.CSS(`dialog[open] #new-flow-name`)))
	if name := evalJS[string](p, `document.querySelector('#new-flow-name').value`); name != "IVR menu" {
		t.Errorf("the new flow's name is offered as %q; want the template's", name)
	}
	p.do("save it", chromedp.Click(chromedp.CSS(`button.new-flow-save`)), chromedp.WaitVisible(chromedp.CSS(`.graph svg .node`)))
	id := evalJS[string](p, `location.hash.split("/")[2]`)
	if n := evalJS[int](p, `document.querySelectorAll('.graph .node').length`); n != 9 {
		t.Fatalf("the graph has %d actions, want the template's 9", n)
	}
	labels := evalJS[[]string](p, `[...document.querySelectorAll('.graph .edge-label')].map(e => e.textContent)`)
	for _, want := range []string{`"1"`, `"2"`, "default", "goto ×2", "next_id"} {
		if !contains(labels, want) {
			t.Errorf("edge labels %q lack %q", labels, want)
		}
	}
	p.waitJS("checked", `document.querySelector('.problems .none')`)
	// An action's options, from the keyboard: Tab to the node, Enter.
	p.do("open the branch's options", chromedp.Focus(chromedp.CSS(`.graph .node[data-index="3"]`)), chromedp.KeyEvent("\r"))
	p.waitJS("the options", `document.querySelector('.panel h2') && document.querySelector('.panel h2').textContent === 'Action 3: branch'`)
	// Its form: the variable, and the targets named by the actions' names or summaries, never by their UUIDs.
	if v := evalJS[string](p, `document.querySelector('.action-form input[name="variable"]').value`); v != "voipbin.call.digits" {
		t.Errorf("the branch's variable %q", v)
	}
	if d := evalJS[string](p, `document.querySelector('.action-form select[data-field="default_target_id"] option:checked').textContent`); !strings.HasPrefix(d, "4. ") || strings.Contains(d, "-") {
		t.Errorf("the branch's default target is shown as %q; want action 4 by its name", d)
	}
	p.do("back to the problems", chromedp.Click(chromedp.CSS(`#tab-problems`)))

	// An error, marked at its line in the editor and on the graph.
	p.typeOver(`"type": "talk"`, "talk", "tlak")
	p.waitJS("the error is shown", `document.querySelector('.problem.error')`)
	wantLine := evalJS[int](p, `[...document.querySelectorAll('.cm-content .cm-line')].findIndex(e => e.textContent.includes('"tlak"')) + 1`)
	problem := evalJS[map[string]any](p, `(() => { const e = document.querySelector('.problem.error'); return {line: +e.dataset.line, pointer: e.dataset.pointer, text: e.textContent}; })()`)
	if problem["line"] != float64(wantLine) || problem["pointer"] != "/actions/1/type" || !strings.Contains(problem["text"].(string), "tlak") {
		t.Fatalf("problem %v; want line %d, pointer /actions/1/type, about tlak", problem, wantLine)
	}
	marked := evalJS[string](p, `(document.querySelector('.cm-lintRange-error') || {}).textContent || ""`)
	if marked != `"tlak"` {
		t.Errorf("the editor marks %q, want the value \"tlak\"", marked)
	}
	if !evalJS[bool](p, `document.querySelector('.graph .node[data-index="1"]').classList.contains('error')`) {
		t.Error("the graph does not mark action 1")
	}
	p.screenshot("error")

	// Fixed, changed, saved.
	p.typeOver(`"type": "tlak"`, "tlak", "talk")
	p.waitJS("fixed", `document.querySelector('.problems .none')`)
	p.typeOver(`Welcome.`, "Welcome", "Hello")
	p.waitJS("checked again", `document.querySelector('.state').textContent.startsWith('Unsaved changes')`)
	p.do("save with Ctrl+S", chromedp.KeyEvent("s", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	p.waitJS("saved", `document.querySelector('.revision').textContent.startsWith('revision 2')`)
	saved, etag := flowOverHTTP(t, in.url, token, id)
	if etag != `"r2"` || !strings.Contains(fmt.Sprint(saved["actions"]), "Hello. Press 1") {
		t.Fatalf("after save: ETag %s, actions %v; want r2 with the new greeting", etag, saved["actions"])
	}

	// A concurrent edit: the save meets 412 and shows what changed instead of overwriting it.
	saved["name"] = "IVR menu (edited elsewhere)"
	body, _ := json.Marshal(map[string]any{"name": saved["name"], "detail": saved["detail"], "actions": saved["actions"]})
	req, _ := http.NewRequest("PUT", in.url+"/v1.0/flows/"+id, strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", `"r2"`)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("concurrent PUT: %v %v", res, err)
	}
	res.Body.Close()
	p.typeOver(`Hello.`, "Hello", "Hi")
	p.do("save", chromedp.Click(chromedp.CSS(`button.save`)))
	p.waitJS("the conflict is shown", `document.querySelector('dialog[open] .cm-mergeView')`)
	summary := p.text(`.conflict-summary`)
	if !strings.Contains(summary, "revision 3") || !strings.Contains(summary, "by docs (accesskey)") {
		t.Errorf("conflict summary %q; want revision 3 by the access key", summary)
	}
	if diff := p.text(`dialog[open] .cm-mergeView`); !strings.Contains(diff, "edited elsewhere") || !strings.Contains(diff, "Hi. Press 1") {
		t.Errorf("the diff %q does not show both sides", diff)
	}
	if f, _ := flowOverHTTP(t, in.url, token, id); f["name"] != "IVR menu (edited elsewhere)" {
		t.Fatalf("the console overwrote the concurrent edit: name %v", f["name"])
	}
	p.screenshot("conflict")
	p.do("take theirs", chromedp.Click(chromedp.CSS(`button.take-theirs`)))
	p.waitJS("theirs loaded", `document.querySelector('.flow-name').textContent === 'IVR menu (edited elsewhere)' && !document.querySelector('dialog[open]')`)

	// Revisions: a diff of two, and a restore of the first.
	p.do("revisions", chromedp.Click(chromedp.CSS(`#tab-revisions`)), chromedp.WaitVisible(chromedp.CSS(`.revision-row[data-revision="1"]`)))
	rows := evalJS[[]string](p, `[...document.querySelectorAll('.revision-row')].map(e => e.textContent)`)
	if len(rows) != 3 || !strings.Contains(rows[0], "docs (accesskey)") || !strings.Contains(rows[2], "admin (user)") {
		t.Fatalf("revision rows %q; want 3, newest by the access key, first by admin", rows)
	}
	p.do("compare 1 and 3",
		chromedp.Click(chromedp.CSS(`input[data-revision="1"]`)), chromedp.Click(chromedp.CSS(`input[data-revision="3"]`)),
		chromedp.Click(chromedp.CSS(`button.compare`)), chromedp.WaitVisible(chromedp.CSS(`dialog[open] .cm-mergeView`)))
	if diff := p.text(`dialog[open] .cm-mergeView`); !strings.Contains(diff, "Welcome. Press 1") || !strings.Contains(diff, "Hello. Press 1") {
		t.Errorf("the diff of revisions 1 and 3 %q lacks one side", diff)
	}
	p.do("close the diff", chromedp.KeyEvent("\x1b"))
	p.waitJS("closed", `!document.querySelector('dialog[open]')`)
	p.do("restore 1", chromedp.Click(chromedp.CSS(`.revision-row[data-revision="1"] button.restore`)))
	p.waitJS("restored", `document.querySelector('.revision').textContent.startsWith('revision 4')`)
	if f, etag := flowOverHTTP(t, in.url, token, id); etag != `"r4"` || f["name"] != "IVR menu" || !strings.Contains(fmt.Sprint(f["actions"]), "Welcome. Press 1") {
		t.Fatalf("after restore: %s %v %v; want revision 4 as revision 1 was", etag, f["name"], f["actions"])
	}

	// A call: press 1, and the branch to sales is taken.
	p.do("try a call", chromedp.Click(chromedp.CSS(`#tab-call`)), chromedp.Click(chromedp.CSS(`button.call-start`)))
	p.waitJS("the keypad waits", `document.querySelector('.keypad button[data-key="1"]:not([disabled])')`)
	if !evalJS[bool](p, `document.querySelector('.graph .node[data-type="digits_receive"]').classList.contains('current')`) {
		t.Error("the waiting digits_receive is not highlighted")
	}
	if trace := p.text(`.trace`); !strings.Contains(trace, "Welcome. Press 1 for sales") {
		t.Errorf("trace %q does not show what the talk said", trace)
	}
	p.do("press 1", chromedp.Click(chromedp.CSS(`.keypad button[data-key="1"]`)))
	p.waitJS("the call ends", `document.querySelector('.phone-status').textContent.includes('ended')`)
	trace := p.text(`.trace`)
	for _, want := range []string{`target_ids["1"]`, "Connecting you to sales.", "hangup"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace %q lacks %q", trace, want)
		}
	}
	path := evalJS[map[string]bool](p, `(() => { const n = t => document.querySelector('.graph .node[data-index="'+t+'"]').classList.contains('visited'); return {sales: n(6), support: n(7)}; })()`)
	if !path["sales"] || path["support"] {
		t.Errorf("path on the graph %v; want sales visited, support not", path)
	}
	if !evalJS[bool](p, `[...document.querySelectorAll('.graph .edge.kind-branch.taken .edge-label')].some(e => e.textContent === '"1"')`) {
		t.Error(`the branch "1" is not drawn as taken`)
	}
	p.screenshot("call-ended")

	// A second call, left while it waits: leaving the page hangs it up.
	p.do("call again", chromedp.Click(chromedp.CSS(`button.call-start`)))
	p.waitJS("the keypad waits again", `document.querySelector('.keypad button[data-key="1"]:not([disabled])')`)

	// The activeflow, with its path on the graph of the revision it ran, not of the flow as it is now.
	req, _ = http.NewRequest("PUT", in.url+"/v1.0/flows/"+id, strings.NewReader(`{"name":"IVR menu","actions":[{"type":"answer"},{"type":"hangup"}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if res, err = http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("PUT after the call: %v %v", res, err)
	}
	res.Body.Close()
	p.do("activeflows", chromedp.Click(chromedp.CSS(`header a[href="#/activeflows"]`)), chromedp.WaitVisible(chromedp.CSS(`a.af-link`)))
	p.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`a.af-link`)))
	rows = evalJS[[]string](p, `[...document.querySelectorAll('table.activeflows tbody tr')].map(r => r.textContent)`)
	if len(rows) != 2 || !strings.Contains(rows[0], "stopped") || !strings.Contains(rows[1], "IVR menu (r4)") || !strings.Contains(rows[1], "hangup") {
		t.Errorf("activeflow rows %q; want the call left behind stopped, and the first ended by its hangup at r4", rows)
	}
	p.do("an activeflow", chromedp.Click(chromedp.CSS(`table.activeflows tbody tr:nth-child(2) a.af-link`)), chromedp.WaitVisible(chromedp.CSS(`.graph .node.visited`)))
	if !evalJS[bool](p, `document.querySelector('.graph .node[data-index="6"]').classList.contains('visited')`) {
		t.Error("the activeflow's page does not draw its path")
	}
	if n, note := evalJS[int](p, `document.querySelectorAll('.graph .node').length`), p.text(`.graph-note`); n != 9 || !strings.Contains(note, "Revision 4") {
		t.Errorf("the activeflow's graph has %d actions (%q); want the 9 of revision 4 it ran", n, note)
	}
	p.screenshot("activeflow")

	// An access key logs in too.
	p.do("log out", chromedp.Click(chromedp.CSS(`header button.link`)), chromedp.WaitVisible(chromedp.CSS(`form.login`)))
	p.do("log in with an access key",
		chromedp.SendKeys(chromedp.CSS(`#accesskey`), key),
		chromedp.Click(chromedp.CSS(`form.login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a.flow-link`)))
	if name := p.text(`a.flow-link`); name != "IVR menu" {
		t.Errorf("with the access key, the list shows %q", name)
	}

	time.Sleep(200 * time.Millisecond)
	if errs := messages.errors("412"); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestConsoleCORS: the console served by one server logs in to a server on another origin only when that server's
// CORS allows the console's origin; otherwise it says why it cannot.
func TestConsoleCORS(t *testing.T) {
	// The console's Content-Security-Policy lets it reach other servers only when FLOWBIN_CONSOLE_SERVERS names them.
	home := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "home-password",
		"FLOWBIN_CONSOLE_SERVERS": "http://127.0.0.1:*"})
	closed := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "away-password"})
	open := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "away-password",
		"FLOWBIN_CORS_ORIGINS": home.url})
	b := browser(t)
	p := newPage(t, b, home.url)
	login := func(server string) {
		p.do("open the console", chromedp.Navigate("about:blank"), chromedp.Navigate(home.url+"/console#/login"), chromedp.WaitVisible(chromedp.CSS(`form.login`)),
			chromedp.Click(chromedp.CSS(`form.login summary`)),
			chromedp.SendKeys(chromedp.CSS(`#server`), server),
			chromedp.SendKeys(chromedp.CSS(`#username`), "admin"),
			chromedp.SendKeys(chromedp.CSS(`#password`), "away-password"),
			chromedp.Click(chromedp.CSS(`form.login button[type="submit"]`)))
	}

	login(closed.url)
	p.waitJS("refused", `document.querySelector('form.login .error').textContent.includes('CORS')`)
	if got := evalJS[string](p, `sessionStorage.getItem("flowbin.token") || ""`); got != "" {
		t.Errorf("a token was kept after a refused login: %q", got)
	}

	login(open.url)
	p.waitJS("logged in", `document.querySelector('header .server') && document.querySelector('header .server').textContent === `+fmt.Sprintf("%q", open.url))
	p.waitJS("the other server's flows", `document.querySelector('main h1') && document.querySelector('main h1').textContent === 'Flows'`)

	// A flow of that server with an action no other leads to: drawn, and marked unreachable on the graph and as
	// a warning.
	token, _ := credentials(t, open.url, "away-password")
	req, _ := http.NewRequest("POST", open.url+"/v1.0/flows", strings.NewReader(`{"name":"dead end","actions":[
		{"type":"answer"},{"type":"hangup"},{"type":"talk","option":{"text":"never said"}}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("create: %v %v", res, err)
	}
	var f struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&f); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	p.do("the flow", chromedp.Navigate(home.url+"/console#/flows/"+f.ID), chromedp.WaitVisible(chromedp.CSS(`.graph .node`)))
	p.waitJS("its warning", `document.querySelector('.problem.warning')`)
	unreachable := evalJS[[]string](p, `[...document.querySelectorAll('.graph .node.unreachable')].map(n => n.dataset.index + ' ' + n.classList.contains('warning'))`)
	if len(unreachable) != 1 || unreachable[0] != "2 true" {
		t.Errorf("unreachable nodes %q; want action 2, marked with its warning", unreachable)
	}
	if w := p.text(`.problem.warning`); !strings.Contains(w, "UNREACHABLE_ACTION") {
		t.Errorf("warning %q", w)
	}
}
