package events_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// documented answers the code block that follows marker in docs/execution.md.
func documented(t *testing.T, marker string) []byte {
	t.Helper()
	doc, err := os.ReadFile("../docs/execution.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- " + regexp.QuoteMeta(marker) + " -->\n```[a-z]*\n(.*?)```\n").FindSubmatch(doc)
	if m == nil {
		t.Fatalf("docs/execution.md has no block after <!-- %s -->", marker)
	}
	return m[1]
}

// TestDocumentedReceivers: the receivers docs/execution.md shows verify real deliveries of the deliverer, and
// reject a tampered body. The Go receiver is verify_example_test.go, which must be the documentation's code as
// written; the shell receiver runs under sh with openssl.
func TestDocumentedReceivers(t *testing.T) {
	code, err := os.ReadFile("verify_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("package events_test\n\n"), documented(t, "verify.go")...); !bytes.Equal(code, want) {
		t.Fatal("verify_example_test.go is not the Go receiver of docs/execution.md: copy the documentation's block")
	}
	script := filepath.Join(t.TempDir(), "verify.sh")
	if err := os.WriteFile(script, documented(t, "verify.sh"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not installed; CI=true, so this fails")
		}
		t.Skip("openssl is not installed (make test-deps installs it)")
	}

	fx := newFixture(t, storetest.SQLite)
	rc := newLoopback(t, nil)
	fx.enqueue(t, uuid.New(), store.OutboxMessage{EventType: "webhook_send", URL: rc.URL, Method: "POST", ContentType: "application/json",
		Payload: `{"caller":"ana","note":"it's $HOME & \"quoted\"\n"}`})
	fx.run(t, specSecret, events.Config{})
	eventually(t, "a delivery", func() bool { return len(rc.deliveries()) == 1 })
	d := rc.deliveries()[0]

	sh := func(h http.Header, body []byte) error {
		file := filepath.Join(t.TempDir(), "body")
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("sh", script, specSecret, file, h.Get(events.HeaderID), h.Get(events.HeaderTimestamp),
			h.Get(events.HeaderSignature), h.Get(events.HeaderVoIPbin)).CombinedOutput()
		if err != nil {
			t.Logf("verify.sh: %s", out)
		}
		return err
	}
	if err := verifyDelivery(specSecret, d.Header, d.Body, time.Now()); err != nil {
		t.Errorf("the Go receiver rejects a real delivery: %v", err)
	}
	if err := sh(d.Header, d.Body); err != nil {
		t.Errorf("the shell receiver rejects a real delivery: %v", err)
	}
	tampered := bytes.Replace(d.Body, []byte("ana"), []byte("eve"), 1)
	if verifyDelivery(specSecret, d.Header, tampered, time.Now()) == nil {
		t.Error("the Go receiver accepts a tampered body")
	}
	if sh(d.Header, tampered) == nil {
		t.Error("the shell receiver accepts a tampered body")
	}
	// Each form alone is checked: a forged VoIPbin signature with a good Standard Webhooks one is refused too.
	forged := d.Header.Clone()
	forged.Set(events.HeaderVoIPbin, events.SignVoIPbin("whsec_other", d.Body))
	if verifyDelivery(specSecret, forged, d.Body, time.Now()) == nil || sh(forged, d.Body) == nil {
		t.Error("a receiver accepts a wrong X-VoIPBIN-Signature")
	}
	forged = d.Header.Clone()
	forged.Set(events.HeaderSignature, "v1,"+d.Header.Get(events.HeaderSignature)[4:8]+"AAAA")
	if verifyDelivery(specSecret, forged, d.Body, time.Now()) == nil || sh(forged, d.Body) == nil {
		t.Error("a receiver accepts a wrong webhook-signature")
	}
}
