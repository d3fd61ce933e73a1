package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/flowbin/flowbin/internal/apitest"
	"github.com/flowbin/flowbin/store/storetest"
)

// leaks watches the whole suite: every login token and access key that any test is issued through the API, and
// every log that any test server writes. TestMain fails the suite when a log holds a credential, in clear or
// percent-encoded.
var leaks credentialWatch

type credentialWatch struct {
	mu    sync.Mutex
	creds map[string]string // a credential's every 20-character window of its random part → the credential
	logs  []*apitest.LogBuffer
}

// leakWindow is long enough that no log line holds one of a credential's windows by chance.
const leakWindow = 20

// issued records a credential. Only its random part is looked for (a JWT's signature, a key after "fbk_"): a
// credential in a log, whole or cut, holds at least one of its windows.
func (w *credentialWatch) issued(cred string) {
	random := randomPart(cred)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.creds == nil {
		w.creds = map[string]string{}
	}
	for i := 0; i+leakWindow <= len(random); i++ {
		w.creds[random[i:i+leakWindow]] = cred
	}
}

// randomPart is what no log line holds by chance: a JWT's signature, an access key after its prefix.
func randomPart(cred string) string {
	if after, ok := strings.CutPrefix(cred, "fbk_"); ok {
		return after
	}
	return cred[strings.LastIndexByte(cred, '.')+1:]
}

func (w *credentialWatch) log(b *apitest.LogBuffer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.logs = append(w.logs, b)
}

// issuedIn records the credential that an answer holds: login and access-key creation answer one as "token".
func (w *credentialWatch) issuedIn(body []byte) {
	if !strings.Contains(string(body), `"token"`) {
		return
	}
	var v struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(body, &v) == nil && len(v.Token) > 40 {
		w.issued(v.Token)
	}
}

// check returns the log lines that hold a credential, as written or once percent-decoded.
func (w *credentialWatch) check() (found []string, lines, creds int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range w.logs {
		for line := range strings.SplitSeq(b.String(), "\n") {
			lines++
			forms := []string{line}
			if d, err := url.PathUnescape(line); err == nil && d != line {
				forms = append(forms, d)
			}
			for _, f := range forms {
				if cred, ok := w.holds(f); ok {
					found = append(found, fmt.Sprintf("%.12s… in %.300s", cred, line))
					break
				}
			}
		}
	}
	return found, lines, len(w.creds)
}

func (w *credentialWatch) holds(s string) (string, bool) {
	for i := 0; i+leakWindow <= len(s); i++ {
		if cred, ok := w.creds[s[i:i+leakWindow]]; ok {
			return cred, true
		}
	}
	return "", false
}

// TestCredentialsRedactedByMeaning: a credential reaches no log however the request spells it: percent-encoded
// parameter names (which authentication decodes and reads), encoded values, other parameter names, the path, a
// header of a route that does not exist. Authentication reads the disguised names, so the disguise matters.
func TestCredentialsRedactedByMeaning(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		k := e.createKey(e.alice, `{"name":"logged?","expire":86400}`)
		encodeAll := func(s string) string {
			var sb strings.Builder
			for i := 0; i < len(s); i++ {
				fmt.Fprintf(&sb, "%%%02X", s[i])
			}
			return sb.String()
		}
		tok := e.alice.token
		// Authentication reads these: each must work, and be logged masked.
		for _, q := range []string{"%74oken=" + tok, "%61ccesskey=" + k.Token, "%74%6F%6B%65%6E=" + encodeAll(tok),
			"accesskey=" + encodeAll(k.Token), "page_size=5&%74oken=" + url.QueryEscape(tok)} {
			e.do("GET", "/v1.0/flows?"+q, nil).wantStatus(http.StatusOK)
		}
		// These are not credentials to the server, but look like them, or are them elsewhere.
		for _, q := range []string{"TOKEN=" + tok, "q=" + tok, "x=" + encodeAll(k.Token), "%74oken=" + tok + ";x=1",
			"page_token=" + url.QueryEscape(k.Token)} {
			e.do("GET", "/v1.0/flows?"+q, nil)
		}
		e.as(e.alice, "GET", "/v1.0/flows/"+tok, nil)
		e.as(e.alice, "GET", "/v1.0/flows/"+encodeAll(k.Token), nil)
		e.do("GET", "/nowhere/"+k.Token+"?token="+tok, nil, "Authorization", "Bearer "+tok)

		logs := e.logs.String()
		for _, cred := range []string{tok, k.Token} {
			random := randomPart(cred)
			if strings.Contains(logs, random[:leakWindow]) || strings.Contains(logs, encodeAll(random[:leakWindow])) {
				t.Errorf("the log holds a credential (%.12s…):\n%s", cred, logs)
			}
		}
		for _, want := range []string{`"query":"token=REDACTED"`, `"query":"accesskey=REDACTED&`, `"query":"page_size=5&token=REDACTED"`,
			`"query":"TOKEN=REDACTED"`, `"query":"q=REDACTED"`, `"query":"(undecodable)"`} {
			if !strings.Contains(logs, want) {
				t.Errorf("the log misses %s:\n%s", want, logs)
			}
		}
	})
}
