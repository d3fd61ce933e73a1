package e2e_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDocsKeepCredentialsInMemory: after Authorize (through the dialog, as a user does) and a call from Swagger
// UI, the browser's storage holds no credential; only with FLOWBIN_DOCS_PERSIST_AUTHORIZATION=true does
// localStorage keep it (which also shows that the check would see a credential there).
func TestDocsKeepCredentialsInMemory(t *testing.T) {
	for _, persist := range []bool{false, true} {
		name := map[bool]string{false: "default", true: "persisting"}[persist]
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "docs-password"}
			if persist {
				env["FLOWBIN_DOCS_PERSIST_AUTHORIZATION"] = "true"
			}
			in := start(t, env)
			token, _ := credentials(t, in.url, "docs-password")
			p := &page{t: t, b: browser(t), base: in.url, in: in}
			p.step("load /docs", chromedp.Navigate(in.url+"/docs"), chromedp.WaitVisible(chromedp.CSS(`#operations-Flows-listFlows`)))
			p.authorize("BearerAuth", token)
			if a := p.tryIt("listFlows", nil); a.status != "200" {
				t.Fatalf("Try it out: status %q, want 200", a.status)
			}
			stored := eval[string](p, "read the storage",
				`JSON.stringify(Object.assign({}, localStorage)) + JSON.stringify(Object.assign({}, sessionStorage))`)
			signature := token[strings.LastIndexByte(token, '.')+1:]
			if got := strings.Contains(stored, signature); got != persist {
				t.Errorf("the browser's storage holds the token: %v, want %v (%.300s)", got, persist, stored)
			}
		})
	}
}
