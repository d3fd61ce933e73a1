package e2e_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDocsKeepCredentialsInMemory: after Authorize and a call from Swagger UI, the browser's storage holds no
// credential; only with FLOWBIN_DOCS_PERSIST_AUTHORIZATION=true does localStorage keep it (which also shows that
// the check would see a credential there).
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
			b := browser(t)
			// The first action starts the browser, which lives as long as the context it ran in: b's.
			if err := chromedp.Do(b, chromedp.Navigate(in.url+"/docs"), chromedp.WaitVisible(chromedp.CSS(`.opblock`))); err != nil {
				t.Fatalf("load /docs: %v", err)
			}
			if status := tryListFlows(t, b, in.url, "BearerAuth", token); status != "200" {
				t.Fatalf("Try it out: status %q, want 200", status)
			}
			// Authorize as the dialog's button does (tryListFlows preauthorizes, which never persists).
			authorize := fmt.Sprintf(`const schema = window.ui.specSelectors.securityDefinitions().get("BearerAuth").toJS();
				window.ui.authActions.authorizeWithPersistOption({BearerAuth: {name: "BearerAuth", schema: schema, value: %q}});`, token)
			if err := chromedp.Do(b, chromedp.Evaluate[chromedp.Void](authorize)); err != nil {
				t.Fatal(err)
			}
			stored, err := chromedp.Run(b, chromedp.Evaluate[string](
				`JSON.stringify(Object.assign({}, localStorage)) + JSON.stringify(Object.assign({}, sessionStorage))`))
			if err != nil {
				t.Fatal(err)
			}
			signature := token[strings.LastIndexByte(token, '.')+1:]
			if got := strings.Contains(stored, signature); got != persist {
				t.Errorf("the browser's storage holds the token: %v, want %v (%.300s)", got, persist, stored)
			}
		})
	}
}
