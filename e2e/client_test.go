package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/flowbin/flowbin/gen/client"
)

func ptr[T any](v T) *T { return &v }

func option(t *testing.T, v any) *json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	raw := json.RawMessage(b)
	return &raw
}

// bearer adds a credential to every request of the client.
func bearer(token string) client.ClientOption {
	return client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	})
}

// TestTutorialThroughTheGoClient runs the seed's tutorial against the real binary through the generated Go client
// only: log in, create, list, get, update, delete.
func TestTutorialThroughTheGoClient(t *testing.T) {
	in := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "e2e-password"})
	ctx := ctx(t)
	anon, err := client.NewClientWithResponses(in.url)
	if err != nil {
		t.Fatal(err)
	}
	login, err := anon.LoginWithResponse(ctx, client.LoginJSONRequestBody{Username: "admin", Password: "e2e-password"})
	if err != nil || login.JSON200 == nil {
		t.Fatalf("login: %v %s", err, login.Body)
	}
	c, err := client.NewClientWithResponses(in.url, bearer(login.JSON200.Token))
	if err != nil {
		t.Fatal(err)
	}

	// Create a flow.
	created, err := c.CreateFlowWithResponse(ctx, nil, client.CreateFlowJSONRequestBody{
		Name:   ptr("test flow"),
		Detail: ptr("test voipbin flow example"),
		Actions: &[]client.Action{
			{Type: client.ActionTypeAnswer},
			{Type: client.ActionTypeTalk, Option: option(t, map[string]string{
				"text":     "hello. welcome to voipbin. This is test message. Please enjoy the voipbin's service. thank you.",
				"language": "en-US"})},
		},
	})
	if err != nil || created.JSON200 == nil {
		t.Fatalf("create: %v %d %s", err, created.StatusCode(), created.Body)
	}
	f := created.JSON200
	if f.Name != "test flow" || len(f.Actions) != 2 || f.Actions[0].Id == "" || f.Actions[0].NextId != "00000000-0000-0000-0000-000000000000" || f.TmUpdate != "" || f.TmDelete != "" {
		t.Fatalf("created: %+v", f)
	}

	// Get the list of flows (here with the token as VoIPbin clients send it, ?token=).
	withQueryToken := client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Del("Authorization")
		q := req.URL.Query()
		q.Set("token", login.JSON200.Token)
		req.URL.RawQuery = q.Encode()
		return nil
	})
	plain, _ := client.NewClientWithResponses(in.url, withQueryToken)
	list, err := plain.ListFlowsWithResponse(ctx, &client.ListFlowsParams{PageSize: ptr(10)})
	if err != nil || list.JSON200 == nil || len(list.JSON200.Result) != 1 || list.JSON200.NextPageToken != f.TmCreate {
		t.Fatalf("list: %v %s", err, list.Body)
	}

	// Get detail of the flow.
	got, err := c.GetFlowWithResponse(ctx, f.Id, nil)
	if err != nil || got.JSON200 == nil || got.JSON200.Id != f.Id {
		t.Fatalf("get: %v %s", err, got.Body)
	}

	// Update the flow.
	updated, err := c.UpdateFlowWithResponse(ctx, f.Id, nil, client.UpdateFlowJSONRequestBody{
		Name:   ptr("test flow update"),
		Detail: ptr("test voipbin flow example update"),
		Actions: &[]client.Action{
			{Type: client.ActionTypeAnswer},
			{Type: client.ActionTypePlay, Option: option(t, map[string][]string{
				"stream_url": {"https://github.com/pchero/asterisk-medias/raw/master/voipbin/welcome.wav"}})},
		},
	})
	if err != nil || updated.JSON200 == nil {
		t.Fatalf("update: %v %s", err, updated.Body)
	}
	if u := updated.JSON200; u.Name != "test flow update" || u.TmCreate != f.TmCreate || u.TmUpdate == "" || u.Actions[1].Type != client.ActionTypePlay {
		t.Fatalf("updated: %+v", u)
	}

	// Delete the flow: 204, then 404 in the envelope.
	deleted, err := c.DeleteFlowWithResponse(ctx, f.Id, nil)
	if err != nil || deleted.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete: %v %d", err, deleted.StatusCode())
	}
	gone, err := c.GetFlowWithResponse(ctx, f.Id, nil)
	if err != nil || gone.JSON404 == nil || gone.JSON404.Error.Reason != "FLOW_NOT_FOUND" {
		t.Fatalf("get after delete: %v %d %s", err, gone.StatusCode(), gone.Body)
	}

	// Validation problems come back typed, with their pointers.
	bad, err := c.CreateFlowWithResponse(ctx, nil, client.CreateFlowJSONRequestBody{Actions: &[]client.Action{{Type: "tlak"}}})
	if err != nil || bad.JSON400 == nil || (*bad.JSON400.Error.Details)[0].Pointer == nil ||
		*(*bad.JSON400.Error.Details)[0].Pointer != "/actions/0/type" {
		t.Fatalf("invalid create: %v %s", err, bad.Body)
	}
}

// TestWarningsThroughTheGoClient runs the README's snippet on warnings: a write's warnings are in its Warning
// headers and in warnings; field_validation=Strict makes unknown fields a 400.
func TestWarningsThroughTheGoClient(t *testing.T) {
	in := start(t, map[string]string{"FLOWBIN_DATA_DIR": t.TempDir(), "FLOWBIN_ADMIN_PASSWORD": "e2e-password"})
	ctx := ctx(t)
	anon, err := client.NewClientWithResponses(in.url)
	if err != nil {
		t.Fatal(err)
	}
	login, err := anon.LoginWithResponse(ctx, client.LoginJSONRequestBody{Username: "admin", Password: "e2e-password"})
	if err != nil || login.JSON200 == nil {
		t.Fatalf("login: %v %s", err, login.Body)
	}
	c, err := client.NewClientWithResponses(in.url, bearer(login.JSON200.Token))
	if err != nil {
		t.Fatal(err)
	}
	name := "warned"
	var headers, pointers []string
	var res *client.CreateFlowResponse

	// The README's snippet, with its prints collected.
	top, gotoTop := "top", json.RawMessage(`{"target_id":"top"}`) // a goto without loop_count: a warning
	res, err = c.CreateFlowWithResponse(ctx, nil, client.CreateFlowJSONRequestBody{
		Name:    &name,
		Actions: &[]client.Action{{Id: &top, Type: client.ActionTypeAnswer}, {Type: client.ActionTypeGoto, Option: &gotoTop}},
	})
	if err == nil && res.JSON200 != nil {
		headers = append(headers, res.HTTPResponse.Header.Values("Warning")...)
		if res.JSON200.Warnings != nil {
			for _, d := range *res.JSON200.Warnings {
				pointers = append(pointers, *d.Pointer+" "+d.Reason)
			}
		}
	}
	mode := client.CreateFlowParamsFieldValidationStrict
	strict := client.CreateFlowParams{FieldValidation: &mode} // pass &strict instead of nil: unknown fields answer 400

	want := `299 flowbin "/actions/1/option/loop_count: goto without loop_count never jumps: loop_count defaults to 0"`
	if err != nil || len(headers) != 1 || headers[0] != want {
		t.Errorf("Warning headers %q (%v), want [%s]", headers, err, want)
	}
	if len(pointers) != 1 || pointers[0] != "/actions/1/option/loop_count GOTO_WITHOUT_LOOP_COUNT" {
		t.Errorf("warnings %q", pointers)
	}
	unknown := []byte(`{"name":"x","flow_name":"x"}`)
	bad, err := c.CreateFlowWithBodyWithResponse(ctx, &strict, "application/json", bytes.NewReader(unknown))
	if err != nil || bad.JSON400 == nil || bad.JSON400.Error.Reason != "UNKNOWN_FIELD" {
		t.Errorf("Strict: %v %s", err, bad.Body)
	}
	lenient, err := c.CreateFlowWithBodyWithResponse(ctx, nil, "application/json", bytes.NewReader(unknown))
	if err != nil || lenient.JSON200 == nil || lenient.JSON200.Name != "x" || len(lenient.HTTPResponse.Header.Values("Warning")) != 1 {
		t.Errorf("Warn: %v %s", err, lenient.Body)
	}
}
