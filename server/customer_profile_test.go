package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/flowbin/flowbin/store/storetest"
)

// TestCustomerProfile: PUT /v1.0/customer stores the profile as VoIPbin's SDK sends it and answers it; GET
// /v1.0/customer and /v1.0/me serve it; a field left out keeps its value; bad values are refused all at once and
// change nothing; the operator's name for the customer stays.
func TestCustomerProfile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		before := e.as(e.alice, "GET", "/v1.0/customer", nil).wantStatus(http.StatusOK).object()
		wantFields(t, "before", before, map[string]any{
			"name": "alice-co", "detail": "", "email": "", "phone_number": "", "address": "", "billing_account_id": nilID,
		})

		// VoIPbin's SDK sends every field of its PutCustomerJSONBody.
		profile := map[string]any{
			"name": "Alice Support", "detail": "Inbound lines\nand the IVR", "email": "ops@alice.example",
			"phone_number": "+1 (555) 010-0100", "address": "1 Main Street\nSpringfield",
			"webhook_method": "", "webhook_uri": "",
		}
		want := map[string]any{
			"id": e.alice.customerID, "name": "Alice Support", "detail": "Inbound lines\nand the IVR", "email": "ops@alice.example",
			"phone_number": "+1 (555) 010-0100", "address": "1 Main Street\nSpringfield", "webhook_uri": "", "webhook_method": "",
			"billing_account_id": nilID,
		}
		e.clock.Advance(1)
		put := e.as(e.alice, "PUT", "/v1.0/customer", profile).wantStatus(http.StatusOK).object()
		wantFields(t, "PUT", put, want)
		if put["tm_update"] == "" || put["tm_create"] != before["tm_create"] {
			t.Errorf("PUT: tm_create %v, tm_update %v; want the same tm_create and a tm_update", put["tm_create"], put["tm_update"])
		}
		wantFields(t, "GET", e.as(e.alice, "GET", "/v1.0/customer", nil).wantStatus(http.StatusOK).object(), want)
		me := e.as(e.alice, "GET", "/v1.0/me", nil).wantStatus(http.StatusOK).object()
		wantFields(t, "me's customer", me["customer"].(map[string]any), want)
		wantFields(t, "bob's", e.as(e.bob, "GET", "/v1.0/customer", nil).wantStatus(http.StatusOK).object(),
			map[string]any{"name": "bob-co", "email": ""})

		// Setting the webhook alone keeps the profile.
		hook := e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"webhook_uri": "https://example.com/hook", "webhook_method": "POST"}).
			wantStatus(http.StatusOK).object()
		want["webhook_uri"], want["webhook_method"] = "https://example.com/hook", "POST"
		wantFields(t, "webhook only", hook, want)

		// Every bad field is reported, and nothing is written.
		bad := map[string]any{
			"name": "tab\there", "email": "Alice <ops@alice.example>", "phone_number": "call me",
			"address": "bell\x07", "webhook_uri": "ftp://example.com",
		}
		body := e.as(e.alice, "PUT", "/v1.0/customer", bad).wantError(http.StatusBadRequest, "INVALID_FIELD")
		var pointers []string
		for _, d := range body.Details {
			pointers = append(pointers, d.Pointer)
		}
		slices.Sort(pointers)
		if got := strings.Join(pointers, " "); got != "/address /email /name /phone_number /webhook_uri" {
			t.Errorf("problems at %s, want every bad field", got)
		}
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"name": strings.Repeat("n", 256)}).wantStatus(http.StatusBadRequest)
		e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{"email": 7}).wantStatus(http.StatusBadRequest)
		wantFields(t, "after refusals", e.as(e.alice, "GET", "/v1.0/customer", nil).wantStatus(http.StatusOK).object(), want)

		// Empty values clear the profile; the operator's name for the customer is unchanged.
		cleared := e.as(e.alice, "PUT", "/v1.0/customer", map[string]any{
			"name": "", "detail": "", "email": "", "phone_number": "", "address": "", "webhook_uri": "", "webhook_method": "",
		}).wantStatus(http.StatusOK).object()
		wantFields(t, "cleared", cleared, map[string]any{"name": "", "detail": "", "email": "", "phone_number": "", "address": ""})
		if c, err := e.st.CustomerByName(t.Context(), "alice-co"); err != nil || c.ID.String() != e.alice.customerID {
			t.Errorf("the operator's name: %v %v", c, err)
		}
	})
}
