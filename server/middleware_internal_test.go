package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestPanicIsAnEnvelope: a panicking handler answers 500 in the envelope, without internal details, and the log
// keeps the cause.
func TestPanicIsAnEnvelope(t *testing.T) {
	var logs strings.Builder
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	e := echo.New()
	e.HTTPErrorHandler = s.handleError
	e.Use(s.requestID, s.accessLog, s.recoverPanic)
	e.GET("/boom", func(echo.Context) error { panic("secret internal state") })
	e.GET("/fail", func(echo.Context) error { return errors.New("pq: password authentication failed for user x") })
	for _, path := range []string{"/boom", "/fail"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("%s: status %d", path, rec.Code)
		}
		var body struct {
			Error struct{ Status, Reason, Message, RequestID string } `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if body.Error.Reason != "INTERNAL" || body.Error.Message != "internal error" {
			t.Errorf("%s: got %+v", path, body)
		}
		if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "password") {
			t.Errorf("%s: internal details in the body: %s", path, rec.Body)
		}
	}
	if !strings.Contains(logs.String(), "secret internal state") || !strings.Contains(logs.String(), "status=500") {
		t.Errorf("the log must keep the cause and the status:\n%s", logs.String())
	}
}
