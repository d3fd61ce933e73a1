package events_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// verifyDelivery checks both signatures of a flowbin delivery, as a receiver does: secret is the customer's
// "whsec_…" secret, shown once by POST /v1.0/customer/webhook_secret; body is the request's raw body.
func verifyDelivery(secret string, h http.Header, body []byte, now time.Time) error {
	// VoIPbin's form: "sha256=" + hex HMAC-SHA256 of the body, keyed by the secret string as it is.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal([]byte(h.Get("X-VoIPBIN-Signature")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil)))) {
		return errors.New("X-VoIPBIN-Signature does not match")
	}
	// Standard Webhooks' form: "v1," + base64 HMAC-SHA256 of "id.timestamp.body", keyed by the base64-decoded
	// part of the secret after "whsec_"; the timestamp within 5 minutes of now.
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return errors.New("webhook-timestamp missing or out of tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac = hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook-signature does not match")
}
