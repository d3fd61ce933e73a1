package events_test

import (
	"testing"
	"time"

	"github.com/flowbin/flowbin/events"
)

// The Standard Webhooks specification's own example, and a VoIPbin signature computed independently with
// `openssl dgst -sha256 -hmac "$secret"`.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	voipBody   = `{"a":1}`
	voipSig    = "sha256=45ec03b2b33403c8043a90de06bedad0827183927115fd7e448ef97eeb13c5be"
)

func TestSignatureHeadersBothForms(t *testing.T) {
	at := time.Unix(1614265330, 0)
	h, err := events.SignatureHeaders(specSecret, specID, at, []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		events.HeaderID:        specID,
		events.HeaderTimestamp: "1614265330",
		events.HeaderSignature: specSig,
		events.HeaderVoIPbin:   events.SignVoIPbin(specSecret, []byte(specBody)),
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	if got := events.SignVoIPbin(specSecret, []byte(voipBody)); got != voipSig {
		t.Errorf("X-VoIPBIN-Signature: got %q, want %q (openssl's)", got, voipSig)
	}
	if err := events.Verify(specSecret, specID, h.Get(events.HeaderTimestamp), h.Get(events.HeaderSignature), []byte(specBody), 5*time.Minute, at); err != nil {
		t.Errorf("Verify of its own signature: %v", err)
	}
	if err := events.VerifyVoIPbin(specSecret, h.Get(events.HeaderVoIPbin), []byte(specBody)); err != nil {
		t.Errorf("VerifyVoIPbin of its own signature: %v", err)
	}
	tampered := []byte(`{"test": 2432232315}`)
	if err := events.Verify(specSecret, specID, h.Get(events.HeaderTimestamp), h.Get(events.HeaderSignature), tampered, 5*time.Minute, at); err == nil {
		t.Error("Verify accepted a tampered body")
	}
	if err := events.VerifyVoIPbin(specSecret, h.Get(events.HeaderVoIPbin), tampered); err == nil {
		t.Error("VerifyVoIPbin accepted a tampered body")
	}
	if err := events.Verify(specSecret, specID, h.Get(events.HeaderTimestamp), h.Get(events.HeaderSignature), []byte(specBody), 5*time.Minute, at.Add(time.Hour)); err == nil {
		t.Error("Verify accepted a timestamp an hour old")
	}
}

func TestSignatureHeadersRefusesBadSecrets(t *testing.T) {
	for _, secret := range []string{"", "whsec_not base64!"} {
		if _, err := events.SignatureHeaders(secret, "id", time.Now(), []byte("x")); err == nil {
			t.Errorf("SignatureHeaders(%q): no error", secret)
		}
	}
}
