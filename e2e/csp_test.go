package e2e_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPagesUnderCSPInChromium: under their Content-Security-Policy, the console and Swagger UI still start (the
// console shows its login form, Swagger UI the API's operations) with no violation reported, and a script injected
// inline into either page does not run: the browser refuses it and reports the violation.
func TestPagesUnderCSPInChromium(t *testing.T) {
	in := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "csp-password"})
	b := browser(t)
	messages := watchConsole(b)
	for _, c := range []struct{ path, ready string }{
		{"/console", `document.querySelector("input[type=password]")`},
		{"/docs", `document.querySelectorAll(".opblock").length > 10 && document.querySelector(".info .title")`},
	} {
		seen := len(messages.errors()) // the violations the previous page reported on purpose
		p := newPage(t, b, in.url+c.path)
		p.do("open "+c.path, chromedp.Navigate(in.url+c.path))
		p.waitJS(c.path+" starts", c.ready)
		if errs := messages.errors()[seen:]; len(errs) > 0 {
			t.Errorf("%s: the browser reported errors under the CSP:\n%s", c.path, strings.Join(errs, "\n"))
		}
		ran := evalJS[bool](p, `(() => {
			window.__violations = [];
			document.addEventListener("securitypolicyviolation", e => window.__violations.push(e.violatedDirective));
			const s = document.createElement("script");
			s.textContent = "window.__injected = true";
			document.body.appendChild(s);
			const img = document.createElement("img");
			img.setAttribute("onerror", "window.__injected = true");
			img.src = "data:,not-an-image";
			document.body.appendChild(img);
			return window.__injected === true;
		})()`)
		if ran {
			t.Errorf("%s: an injected inline script ran", c.path)
		}
		// Both the script element and the event handler attribute are refused, and reported.
		p.waitJS(c.path+" reports the refused scripts", `window.__violations.filter(d => d.startsWith("script-src")).length >= 2`)
		if evalJS[bool](p, `window.__injected === true`) {
			t.Errorf("%s: an injected event handler ran", c.path)
		}
	}
}
