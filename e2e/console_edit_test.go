package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// axeScript is axe-core's browser script, installed by `make console` (console/package.json pins it).
func axeScript(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "console", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("axe-core is not installed (make console installs it); CI=true, so this fails: %v", err)
		}
		t.Skipf("axe-core is not installed: run `make console` (%v)", err)
	}
	return string(b)
}

// axe runs axe-core on the page as it is and fails the test on every serious or critical violation.
func (p *consolePage) axe(where, script string) {
	p.t.Helper()
	if !evalJS[bool](p, `typeof window.axe === "object"`) {
		evalJS[bool](p, script+"\n;true")
	}
	found, err := chromedp.Run(p.b, chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
		.filter(v => v.impact === "serious" || v.impact === "critical")
		.map(v => v.impact + " " + v.id + ": " + v.help + " at " + v.nodes.slice(0, 4).map(n => n.target.join(" ")).join(" | ")))`, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("axe on %s: %v", where, err)
	}
	for _, v := range found {
		p.t.Errorf("accessibility (axe-core) on %s: %s", where, v)
	}
}

// clickNode clicks a node of the graph with the mouse. The graph is drawn again when what it shows changes (a
// check's answer marks a node, say): a node found just before that is gone, and the click is tried again.
func (p *consolePage) clickNode(sel string) {
	p.t.Helper()
	var err error
	for try := 0; try < 5; try++ {
		ctx, cancel := context.WithTimeout(p.b, 20*time.Second)
		_, err = chromedp.Run(ctx, chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return
		}
	}
	p.t.Fatalf("click %s: %v", sel, err)
}

// apiJSON sends a request to the API and decodes the answer, failing the test on a status other than want.
func apiJSON(t *testing.T, method, url, token, body string, want int) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(res.Body).Decode(&v)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d %v; want %d", method, url, res.StatusCode, v, want)
	}
	return v
}

// TestConsoleBuildsAFlowOnTheGraph is a person who writes no JSON: from a blank flow (which asks for its name
// first), they build the IVR menu with the palette and the forms, pick every target on the graph, undo and redo,
// delete from the keyboard, save, reload and see their names; they call it three times with the console's phone
// and see the counts on the graph's edges; they create an access key and make a new webhook secret. axe-core
// checks every page; a flow of 200 actions gets interactive and draws them all (how soon is measured by make
// bench); the page logs no error.
func TestConsoleBuildsAFlowOnTheGraph(t *testing.T) {
	script := axeScript(t)
	// The customer's webhook, on this machine: outbound requests may reach it.
	hooks := make(chan string, 100)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooks <- r.Header.Get("webhook-signature")
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	in := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "console-password",
		"FLOWBIN_OUTBOUND_ALLOW": strings.TrimPrefix(receiver.URL, "http://")})
	token, _ := credentials(t, in.url, "console-password")
	b := browser(t)
	messages := watchConsole(b)
	p := newPage(t, b, in.url)

	p.do("open the console", chromedp.Navigate(in.url+"/console"), chromedp.WaitVisible(chromedp.CSS(`form.login`)))
	p.do("log in",
		chromedp.SendKeys(chromedp.CSS(`#username`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "console-password"),
		chromedp.Click(chromedp.CSS(`form.login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="#/flows/new"]`)))

	// A blank flow asks for its name, and nothing is saved before Save.
	p.do("new flow", chromedp.Click(chromedp.CSS(`a[href="#/flows/new"]`)), chromedp.WaitVisible(chromedp.CSS(`button[data-template="blank"]`)))
	p.do("blank", chromedp.Click(chromedp.CSS(`button[data-template="blank"]`)), chromedp.WaitVisible(chromedp.CSS(`dialog[open] #new-flow-name`)))
	p.axe("the new-flow dialog", script)
	if n := len(apiJSON(t, "GET", in.url+"/v1.0/flows", token, "", 200)["result"].([]any)); n != 0 {
		t.Fatalf("%d flows exist before Save; want none", n)
	}
	p.do("name it", chromedp.SendKeys(chromedp.CSS(`#new-flow-name`), "Menu built on the graph"), chromedp.Click(chromedp.CSS(`button.new-flow-save`)))
	p.waitJS("the empty flow", `document.querySelector('.flow-name') && document.querySelector('.flow-name').textContent === 'Menu built on the graph' && document.querySelector('.graph .empty')`)
	id := evalJS[string](p, `location.hash.split("/")[2]`)

	// The actions, from the palette, one after the other, each filled in its form.
	add := func(typ, search string) int {
		t.Helper()
		n := evalJS[int](p, `document.querySelectorAll('.graph .node').length`)
		p.do("the palette", chromedp.Click(chromedp.CSS(`#tab-add`)), chromedp.WaitVisible(chromedp.CSS(`#palette-search`)))
		p.do("search "+search, chromedp.SendKeys(chromedp.CSS(`#palette-search`), search))
		p.waitJS("the palette finds "+typ, fmt.Sprintf(`document.querySelector('.palette-item[data-type=%q]')`, typ))
		if d := p.text(fmt.Sprintf(`.palette-item[data-type=%q] span`, typ)); d == "" {
			t.Errorf("the palette shows %s without its description", typ)
		}
		p.do("add "+typ, chromedp.Click(chromedp.CSS(fmt.Sprintf(`.palette-item[data-type=%q]`, typ))))
		p.waitJS(typ+" added", fmt.Sprintf(`document.querySelectorAll('.graph .node').length === %d && document.querySelector('.action-form h2').textContent.endsWith(': %s')`, n+1, typ))
		return evalJS[int](p, `+document.querySelector('.action-form').dataset.index`)
	}
	fill := func(sel, value string) {
		t.Helper()
		p.do("fill "+sel, chromedp.SendKeys(chromedp.CSS(`.action-form `+sel), value))
	}
	add("answer", "answer")
	menu := add("talk", "speaks")
	// A talk without its text: the form marks the field, the graph the node, as the person types nothing.
	p.waitJS("the missing text is marked", `document.querySelector('.action-form .field.invalid textarea[name="text"]') && document.querySelector('.graph .node[data-index="1"]').classList.contains('error')`)
	fill(`input.name`, "Menu")
	fill(`textarea[name="text"]`, "Press 1 for sales or 2 for support.")
	p.waitJS("the text is accepted", `!document.querySelector('.action-form .field.invalid') && !document.querySelector('.graph .node.error')`)
	add("digits_receive", "digits_receive")
	fill(`input.name`, "Read a digit")
	fill(`input[name="duration"]`, "5") // seconds: the unit the form offers first
	fill(`input[name="length"]`, "1")
	choice := add("branch", "branch")
	fill(`input.name`, "Choice")
	p.do("value 1", chromedp.Click(chromedp.CSS(`.action-form .add-value`)))
	p.waitJS("value 1 is there", `document.querySelector('.branch-row[data-value="1"]')`)
	p.do("value 2", chromedp.Click(chromedp.CSS(`.action-form .add-value`)))
	p.waitJS("value 2 is there", `document.querySelector('.branch-row[data-value="2"]')`)
	sales := add("talk", "talk")
	fill(`input.name`, "Sales")
	fill(`textarea[name="text"]`, "Connecting you to sales.")
	support := add("talk", "talk")
	fill(`input.name`, "Support")
	fill(`textarea[name="text"]`, "Connecting you to support.")
	goodbye := add("hangup", "hang")
	fill(`input.name`, "Goodbye")

	// Targets, picked on the graph.
	node := func(i int) string { return fmt.Sprintf(`.graph .node[data-index="%d"]`, i) }
	selectNode := func(i int) {
		t.Helper()
		p.clickNode(node(i))
		p.waitJS(fmt.Sprintf("action %d's form", i), fmt.Sprintf(`document.querySelector('.action-form[data-index="%d"]')`, i))
	}
	pick := func(button string, target int) {
		t.Helper()
		p.do("pick "+button, chromedp.Click(chromedp.CSS(`.action-form `+button)))
		p.waitJS("picking", `document.querySelector('.graph.picking')`)
		p.clickNode(node(target))
		p.waitJS("picked", `!document.querySelector('.graph.picking')`)
	}
	selectNode(choice)
	pick(`.pick[data-value="1"]`, sales)
	pick(`.pick[data-value="2"]`, support)
	pick(`.pick[data-field="default_target_id"]`, goodbye)
	// The pickers name actions as people do, never by id.
	options := evalJS[[]string](p, `[...document.querySelectorAll('.action-form select.target option:checked')].map(o => o.textContent)`)
	if strings.Join(options, "|") != fmt.Sprintf("%d. Goodbye (hangup)|%d. Sales (talk)|%d. Support (talk)|(the next action in the list)", goodbye, sales, support) {
		t.Errorf("the branch's pickers show %q", options)
	}
	selectNode(sales)
	pick(`.pick[data-field="next_id"]`, goodbye)
	edges := `[...document.querySelectorAll('.graph .edge')].map(e => e.querySelector('.edge-label') ? e.querySelector('.edge-label').textContent : e.classList[1])`
	p.waitJS("the branch and the jump are drawn", `[...document.querySelectorAll('.graph .edge.kind-next_id')].length === 1`)
	if got := evalJS[[]string](p, edges); !contains(got, `"1"`) || !contains(got, `"2"`) || !contains(got, "default") || !contains(got, "next_id") {
		t.Errorf("edges %q", got)
	}

	// Undo and redo: the buttons, and the keys outside the editor.
	p.do("undo", chromedp.Click(chromedp.CSS(`button.undo`)))
	p.waitJS("undone", `document.querySelectorAll('.graph .edge.kind-next_id').length === 0`)
	p.do("redo with Ctrl+Shift+Z", chromedp.Focus(chromedp.CSS(node(0))), chromedp.KeyEvent("Z", chromedp.KeyModifiers(chromedp.ModifierCtrl|chromedp.ModifierShift)))
	p.waitJS("redone", `document.querySelectorAll('.graph .edge.kind-next_id').length === 1`)

	// The keyboard: arrows between nodes, Enter opens one, Delete removes one (a beep added by mistake).
	p.do("arrow down", chromedp.Focus(chromedp.CSS(node(choice))), chromedp.KeyEvent(kb.ArrowDown))
	p.waitJS("the next node has the focus", fmt.Sprintf(`document.activeElement.dataset.index === "%d"`, choice+1))
	p.do("Enter", chromedp.KeyEvent("\r"))
	p.waitJS("its form", fmt.Sprintf(`document.querySelector('.action-form[data-index="%d"]')`, choice+1))
	beep := add("beep", "beep")
	p.do("Delete on the beep", chromedp.Focus(chromedp.CSS(node(beep))), chromedp.KeyEvent(kb.Delete))
	p.waitJS("the beep is gone", `document.querySelectorAll('.graph .node').length === 7 && !document.querySelector('.graph .node[data-type="beep"]')`)
	if typed := evalJS[string](p, `document.querySelector('.cm-content').textContent`); !strings.Contains(typed, `"Read a digit"`) || !strings.Contains(typed, `"duration": 5000`) {
		t.Errorf("the JSON view does not follow the forms: %s", typed)
	}
	p.waitJS("checked", `document.querySelector('.state').textContent.startsWith('Unsaved changes')`)
	if n := evalJS[int](p, `document.querySelectorAll('.graph .node.error').length`); n != 0 {
		t.Errorf("%d actions marked with errors before saving", n)
	}
	selectNode(choice)
	p.screenshot("editor")
	p.axe("the flow editor", script)

	// Saved, read back over the API with the names and the targets.
	p.do("save", chromedp.Click(chromedp.CSS(`button.save`)))
	p.waitJS("saved", `document.querySelector('.revision').textContent.startsWith('revision 2')`)
	f, _ := flowOverHTTP(t, in.url, token, id)
	actions := f["actions"].([]any)
	var names, types []string
	for _, a := range actions {
		m := a.(map[string]any)
		name, _ := m["name"].(string)
		names = append(names, name)
		types = append(types, m["type"].(string))
	}
	if strings.Join(types, " ") != "answer talk digits_receive branch talk talk hangup" || strings.Join(names, ",") != ",Menu,Read a digit,Choice,Sales,Support,Goodbye" {
		t.Fatalf("saved actions %q named %q", types, names)
	}
	idOf := func(i int) string { return actions[i].(map[string]any)["id"].(string) }
	branch := actions[choice].(map[string]any)["option"].(map[string]any)
	if tids := branch["target_ids"].(map[string]any); tids["1"] != idOf(sales) || tids["2"] != idOf(support) || branch["default_target_id"] != idOf(goodbye) {
		t.Errorf("the branch's targets %v", branch)
	}
	if actions[sales].(map[string]any)["next_id"] != idOf(goodbye) || actions[menu].(map[string]any)["option"].(map[string]any)["text"] != "Press 1 for sales or 2 for support." {
		t.Errorf("saved %v", actions)
	}

	p.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.graph .node`)))
	if labels := evalJS[[]string](p, `[...document.querySelectorAll('.graph .node .node-label')].map(e => e.textContent)`); strings.Join(labels, ",") != ",Menu,Read a digit,Choice,Sales,Support,Goodbye" {
		t.Errorf("after reload the graph names %q", labels)
	}

	// Three calls with the console's phone: 1, 2 and a digit the menu does not know.
	p.do("the phone", chromedp.Click(chromedp.CSS(`#tab-call`)))
	for _, digit := range []string{"1", "2", "9"} {
		p.do("call", chromedp.Click(chromedp.CSS(`button.call-start`)))
		p.waitJS("the keypad waits", `document.querySelector('.keypad button[data-key="1"]:not([disabled])')`)
		p.do("press "+digit, chromedp.Click(chromedp.CSS(`.keypad button[data-key="`+digit+`"]`)))
		p.waitJS("the call ends", `document.querySelector('.phone-status').textContent.includes('ended')`)
	}
	if trace := p.text(`.trace`); !strings.Contains(trace, "Goodbye (hangup)") || !strings.Contains(trace, "Choice (branch)") {
		t.Errorf("the trace %q does not name the actions", trace)
	}

	// An access key: shown once, listed, and it works.
	p.do("settings", chromedp.Click(chromedp.CSS(`header a[href="#/settings/accesskeys"]`)), chromedp.WaitVisible(chromedp.CSS(`#key-name`)))
	p.do("a key", chromedp.SendKeys(chromedp.CSS(`#key-name`), "ci pipeline"), chromedp.Click(chromedp.CSS(`button.key-create`)))
	p.waitJS("the key is shown", `document.querySelector('input.key-token') && document.querySelector('input.key-token').value.length > 10 && document.querySelector('.once button.copy')`)
	newKey := evalJS[string](p, `document.querySelector('input.key-token').value`)
	apiJSON(t, "GET", in.url+"/v1.0/flows", newKey, "", 200)
	if rows := p.text(`table.keys tbody`); !strings.Contains(rows, "ci pipeline") {
		t.Errorf("the keys listed: %q", rows)
	}
	p.axe("the access keys", script)

	// The webhook: its URL and method, and a new secret shown once.
	p.do("webhook", chromedp.Click(chromedp.CSS(`.subnav a[href="#/settings/webhook"]`)), chromedp.WaitVisible(chromedp.CSS(`#webhook-uri`)))
	p.do("its URL", chromedp.SendKeys(chromedp.CSS(`#webhook-uri`), receiver.URL+"/events"), chromedp.Click(chromedp.CSS(`button.webhook-save`)))
	p.waitJS("saved", `document.querySelector('.webhook-state.ok')`)
	if c := apiJSON(t, "GET", in.url+"/v1.0/customer", token, "", 200); c["webhook_uri"] != receiver.URL+"/events" || c["webhook_method"] != "POST" {
		t.Errorf("the customer's webhook %v %v", c["webhook_uri"], c["webhook_method"])
	}
	p.do("rotate", chromedp.Click(chromedp.CSS(`button.rotate-secret`)), chromedp.WaitVisible(chromedp.CSS(`dialog.ask[open]`)))
	if q := p.text(`dialog.ask[open] p`); !strings.Contains(q, "new signing secret") {
		t.Errorf("rotating asks %q", q)
	}
	p.axe("the question before rotating", script)
	p.do("yes, rotate", chromedp.Click(chromedp.CSS(`dialog.ask[open] .ask-yes`)))
	p.waitJS("the secret is shown", `document.querySelector('input.webhook-secret') && document.querySelector('input.webhook-secret').value.startsWith('whsec_')`)
	p.do("a test delivery", chromedp.Click(chromedp.CSS(`button.webhook-test`)))
	p.waitJS("its answer", `document.querySelector('.test-result').textContent.startsWith('Answered 204')`)
	select {
	case sig := <-hooks:
		if !strings.HasPrefix(sig, "v1,") {
			t.Errorf("the test delivery came signed %q; want the new secret's signature", sig)
		}
	case <-time.After(10 * time.Second):
		t.Error("the console said the test was answered, but the receiver got nothing")
	}
	p.axe("the webhook", script)

	// The deliveries of an execution's events, with their attempts: an activeflow that ends at once.
	apiJSON(t, "POST", in.url+"/v1.0/activeflows", token, `{"actions":[{"type":"variable_set","option":{"key":"seen","value":"yes"}},{"type":"stop"}]}`, 200)
	p.do("deliveries", chromedp.Click(chromedp.CSS(`.subnav a[href="#/settings/deliveries"]`)))
	deadline := time.Now().Add(30 * time.Second)
	for !evalJS[bool](p, `!!document.querySelector('tr.delivery.state-delivered')`) {
		if time.Now().After(deadline) {
			t.Fatalf("no delivered event listed: %s", p.text(`main`))
		}
		p.do("look again", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.subnav`)))
	}
	if row := p.text(`tr.delivery.state-delivered`); !strings.Contains(row, receiver.URL+"/events") || !strings.Contains(row, "1 attempt") {
		t.Errorf("a delivered event is listed as %q", row)
	}
	p.do("its attempts", chromedp.Click(chromedp.CSS(`tr.delivery.state-delivered summary`)))
	if a := p.text(`tr.delivery.state-delivered ol.attempts`); !strings.Contains(a, "answered 204") {
		t.Errorf("the attempt reads %q", a)
	}
	p.axe("the deliveries", script)

	// The access key deleted: it no longer works.
	p.do("keys again", chromedp.Click(chromedp.CSS(`.subnav a[href="#/settings/accesskeys"]`)), chromedp.WaitVisible(chromedp.CSS(`tr.key-row`)))
	// Asked first: Cancel (where the focus starts) keeps the key; the dialog's own button deletes it.
	deleteKey := chromedp.CSS(`button[aria-label="Delete the access key ci pipeline"]`)
	p.do("delete the new key", chromedp.Click(deleteKey), chromedp.WaitVisible(chromedp.CSS(`dialog.ask[open]`)))
	if focused := evalJS[string](p, `document.activeElement.className`); focused != "ask-no" {
		t.Errorf("the question starts with the focus on %q; want Cancel", focused)
	}
	p.do("no", chromedp.Click(chromedp.CSS(`dialog.ask[open] .ask-no`)))
	p.waitJS("the question closed", `!document.querySelector('dialog.ask')`)
	if !strings.Contains(p.text(`table.keys tbody`), "ci pipeline") {
		t.Fatal("Cancel deleted the key")
	}
	p.do("delete it after all", chromedp.Click(deleteKey), chromedp.WaitVisible(chromedp.CSS(`dialog.ask[open]`)),
		chromedp.Click(chromedp.CSS(`dialog.ask[open] .ask-yes`)))
	p.waitJS("gone from the list", `!document.querySelector('table.keys tbody').textContent.includes('ci pipeline')`)
	apiJSON(t, "GET", in.url+"/v1.0/flows", newKey, "", 401)

	// 200 actions: the page gets interactive (drawn, editable) and draws every action.
	var big strings.Builder
	big.WriteString(`{"name":"two hundred","actions":[{"type":"answer"}`)
	for i := 1; i < 199; i++ {
		fmt.Fprintf(&big, `,{"type":"talk","name":"step %d","option":{"text":"line %d"}}`, i, i)
	}
	big.WriteString(`,{"type":"hangup"}]}`)
	bigID := apiJSON(t, "POST", in.url+"/v1.0/flows", token, big.String(), 200)["id"].(string)
	p.do("the big flow", chromedp.Navigate("about:blank"), chromedp.Navigate(in.url+"/console#/flows/"+bigID))
	p.waitJS("interactive", `performance.getEntriesByName('flow-interactive').length`)
	if n := evalJS[int](p, `document.querySelectorAll('.graph .node').length`); n != 200 {
		t.Errorf("the big flow draws %d actions", n)
	}
	// How soon is measured by make bench (bench/console.go), on a machine doing nothing else.
	t.Logf("a flow of 200 actions: interactive %.0f ms after the page's start",
		evalJS[float64](p, `performance.getEntriesByName('flow-interactive')[0].startTime`))
	// Deleted from its page, after the question: the list of flows follows, and the API no longer has it.
	p.do("delete the big flow", chromedp.Click(chromedp.CSS(`.bar button.danger`)), chromedp.WaitVisible(chromedp.CSS(`dialog.ask[open]`)))
	if q := p.text(`dialog.ask[open] p`); !strings.Contains(q, "two hundred") {
		t.Errorf("deleting asks %q", q)
	}
	p.do("yes, delete", chromedp.Click(chromedp.CSS(`dialog.ask[open] .ask-yes`)))
	p.waitJS("the list of flows", `location.hash === "#/flows"`)
	apiJSON(t, "GET", in.url+"/v1.0/flows/"+bigID, token, "", 404)

	// The counts, on the graph's edges and nodes.
	p.do("back to the menu", chromedp.Navigate(in.url+"/console#/flows/"+id), chromedp.WaitVisible(chromedp.CSS(`.graph .node[data-type="branch"]`)))
	p.do("stats", chromedp.Click(chromedp.CSS(`#tab-stats`)))
	p.waitJS("the counts", `document.querySelector('.stats-total') && document.querySelector('.graph .edge[data-count]')`)
	if total := p.text(`.stats-total`); !strings.HasPrefix(total, "3 executions") {
		t.Errorf("stats total %q", total)
	}
	counts := evalJS[map[string]string](p, `Object.fromEntries([...document.querySelectorAll('.graph .edge[data-count]')].map(e =>
		[document.querySelector('.graph .node[data-id="'+e.dataset.from+'"]').dataset.index + '>' + document.querySelector('.graph .node[data-id="'+e.dataset.to+'"]').dataset.index, e.dataset.count]))`)
	// 1: sales, then its next_id to goodbye; 2: support, then on to goodbye; 9: the default, goodbye.
	want := map[string]string{"0>1": "3", "1>2": "3", "2>3": "3", fmt.Sprintf("3>%d", sales): "1", fmt.Sprintf("3>%d", support): "1",
		fmt.Sprintf("3>%d", goodbye): "1", fmt.Sprintf("%d>%d", sales, goodbye): "1", fmt.Sprintf("%d>%d", support, goodbye): "1"}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("edge %s counted %q; want %s (all: %v)", k, counts[k], v, counts)
		}
	}
	if fig := p.text(node(goodbye) + ` .node-stats`); !strings.HasPrefix(fig, "in 3 · ended 3") {
		t.Errorf("the hangup's figures %q", fig)
	}
	p.screenshot("stats")
	p.axe("the stats view", script)

	if errs := messages.errors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
