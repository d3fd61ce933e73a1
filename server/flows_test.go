package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

var (
	timestampRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$`)
	uuidRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

func readSeed(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seed", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// sameShape checks that got has every field of the seed's example, with the same JSON type, and that ids and
// timestamps have the seed's formats (timestamps empty exactly where the seed's are).
func sameShape(t *testing.T, path string, seed, got any) {
	t.Helper()
	switch s := seed.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, want an object", path, got)
			return
		}
		for k, sv := range s {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s: field %q is missing", path, k)
				continue
			}
			sameShape(t, path+"/"+k, sv, gv)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(s) {
			t.Errorf("%s: got %v, want an array of %d", path, got, len(s))
			return
		}
		for i := range s {
			sameShape(t, fmt.Sprintf("%s/%d", path, i), s[i], g[i])
		}
	case string:
		g, ok := got.(string)
		if !ok {
			t.Errorf("%s: got %T, want a string", path, got)
			return
		}
		switch name := path[strings.LastIndex(path, "/")+1:]; {
		case strings.HasPrefix(name, "tm_") || name == "next_page_token":
			if (s == "") != (g == "") || (g != "" && !timestampRE.MatchString(g)) {
				t.Errorf("%s: got %q, want a timestamp like %q", path, g, s)
			}
		case name == "id":
			if !uuidRE.MatchString(g) {
				t.Errorf("%s: got %q, want a UUID", path, g)
			}
		}
	default:
		if fmt.Sprintf("%T", seed) != fmt.Sprintf("%T", got) {
			t.Errorf("%s: got %T, want %T", path, got, seed)
		}
	}
}

// TestSeedTutorial replays the user's tutorial request for request and checks the seed's shapes and values.
func TestSeedTutorial(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		tokenQuery := "?token=" + e.alice.token

		// The two flows of the seed's list, created from their own content.
		seedList := decodeAny(t, readSeed(t, "list_response.json")).(map[string]any)
		seedFlows := seedList["result"].([]any)
		for i := len(seedFlows) - 1; i >= 0; i-- {
			f := seedFlows[i].(map[string]any)
			e.clock.Advance(time.Second)
			res := e.do("POST", "/v1.0/flows"+tokenQuery, map[string]any{
				"name": f["name"], "detail": f["detail"], "actions": f["actions"]})
			res.wantStatus(http.StatusOK)
		}

		// Get list of flows.
		res := e.do("GET", "/v1.0/flows"+tokenQuery, nil).wantStatus(http.StatusOK)
		got := decodeAny(t, res.body)
		sameShape(t, "", seedList, got)
		var list apiFlowList
		res.decode(&list)
		if list.NextPageToken != list.Result[1].TMCreate {
			t.Errorf("next_page_token: got %q, want the last flow's tm_create %q", list.NextPageToken, list.Result[1].TMCreate)
		}
		if list.Result[0].Name != "default flow" || list.Result[1].Name != "test flow" {
			t.Errorf("order: got %q, %q, want newest first", list.Result[0].Name, list.Result[1].Name)
		}
		if list.Result[0].Actions[0].ID != "b34aa8a4-0b30-11eb-8016-1f5bc75b1c04" {
			t.Errorf("a client's action UUID must be kept: got %s", list.Result[0].Actions[0].ID)
		}
		if id := list.Result[1].Actions[0].ID; id == uuid.Nil.String() {
			t.Errorf("the nil UUID as an action id must be replaced by a fresh one")
		}
		seedOption := seedFlows[0].(map[string]any)["actions"].([]any)[0].(map[string]any)["option"]
		if gotOption := decodeAny(t, list.Result[0].Actions[0].Option); !jsonEqual(seedOption, gotOption) {
			t.Errorf("option stream_url must come back as sent: got %v, want %v", gotOption, seedOption)
		}

		// Get detail of specified flow.
		id := list.Result[0].ID
		res = e.do("GET", "/v1.0/flows/"+id+tokenQuery, nil).wantStatus(http.StatusOK)
		sameShape(t, "", seedFlows[0], decodeAny(t, res.body))

		// Create a flow.
		res = e.do("POST", "/v1.0/flows"+tokenQuery, readSeed(t, "create_request.json")).wantStatus(http.StatusOK)
		sameShape(t, "", decodeAny(t, readSeed(t, "create_response.json")), decodeAny(t, res.body))
		var created apiFlow
		res.decode(&created)
		checkContent(t, readSeed(t, "create_request.json"), created)
		if created.Type != "flow" || created.CustomerID != e.alice.customerID {
			t.Errorf("type and customer_id: got %q %q", created.Type, created.CustomerID)
		}

		// Update the flow.
		e.clock.Advance(time.Minute)
		res = e.do("PUT", "/v1.0/flows/"+created.ID+tokenQuery, readSeed(t, "update_request.json")).wantStatus(http.StatusOK)
		sameShape(t, "", decodeAny(t, readSeed(t, "update_response.json")), decodeAny(t, res.body))
		var updated apiFlow
		res.decode(&updated)
		checkContent(t, readSeed(t, "update_request.json"), updated)
		if updated.ID != created.ID || updated.TMCreate != created.TMCreate || updated.TMUpdate == "" {
			t.Errorf("update keeps id and tm_create and sets tm_update: got %+v", updated)
		}

		// Delete the flow.
		res = e.do("DELETE", "/v1.0/flows/"+created.ID+tokenQuery, nil).wantStatus(http.StatusNoContent)
		if len(res.body) != 0 {
			t.Errorf("204 with a body: %s", res.body)
		}
		e.do("GET", "/v1.0/flows/"+created.ID+tokenQuery, nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
		e.do("PUT", "/v1.0/flows/"+created.ID+tokenQuery, readSeed(t, "update_request.json")).
			wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
		e.do("DELETE", "/v1.0/flows/"+created.ID+tokenQuery, nil).wantError(http.StatusNotFound, "FLOW_NOT_FOUND")
		e.do("GET", "/v1.0/flows"+tokenQuery, nil).wantStatus(http.StatusOK).decode(&list)
		for _, f := range list.Result {
			if f.ID == created.ID {
				t.Errorf("a deleted flow is listed")
			}
		}
	})
}

// checkContent compares the stored flow with the request: same name, detail, types and options, UUID ids.
func checkContent(t *testing.T, request []byte, got apiFlow) {
	t.Helper()
	var req struct {
		Name, Detail string
		Actions      []struct {
			Type   string
			Option json.RawMessage
		}
	}
	if err := json.Unmarshal(request, &req); err != nil {
		t.Fatal(err)
	}
	if got.Name != req.Name || got.Detail != req.Detail || len(got.Actions) != len(req.Actions) {
		t.Fatalf("got %+v, want the content of %s", got, request)
	}
	for i, a := range req.Actions {
		g := got.Actions[i]
		if g.Type != a.Type || !uuidRE.MatchString(g.ID) {
			t.Errorf("action %d: got %+v, want type %s and a UUID", i, g, a.Type)
		}
		if len(a.Option) > 0 && !jsonEqual(decodeAny(t, a.Option), decodeAny(t, g.Option)) {
			t.Errorf("action %d option: got %s, want %s", i, g.Option, a.Option)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestLabelsAreRewritten sends a flow in VoIPbin's documentation style: human-readable ids referenced by goto,
// branch and conditions. They come back as UUIDs, with every reference consistent.
func TestLabelsAreRewritten(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"ivr","actions":[
			{"id":"main-greeting","type":"talk","option":{"text":"Press 1 for sales, 2 for support."}},
			{"id":"menu","type":"digits_receive","option":{"duration":5000,"length":1}},
			{"type":"branch","option":{"target_ids":{"1":"sales","2":"support"},"default_target_id":"main-greeting"}},
			{"id":"sales","type":"talk","option":{"text":"Sales."},"next_id":"bye"},
			{"id":"support","type":"condition_variable","option":{"condition":"==","variable":"voipbin.call.digits","value_string":"2","false_target_id":"main-greeting"}},
			{"type":"goto","option":{"target_id":"menu","loop_count":2}},
			{"id":"bye","type":"hangup"}]}`)
		ids := map[string]string{}
		for i, a := range f.Actions {
			if !uuidRE.MatchString(a.ID) {
				t.Fatalf("action %d id %q is not a UUID", i, a.ID)
			}
			ids[a.ID] = a.Type
		}
		var branch struct {
			TargetIDs       map[string]string `json:"target_ids"`
			DefaultTargetID string            `json:"default_target_id"`
		}
		if err := json.Unmarshal(f.Actions[2].Option, &branch); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"1": f.Actions[3].ID, "2": f.Actions[4].ID}
		if !jsonEqual(branch.TargetIDs, want) || branch.DefaultTargetID != f.Actions[0].ID {
			t.Errorf("branch: got %+v, want targets %v and default %s", branch, want, f.Actions[0].ID)
		}
		if f.Actions[3].NextID != f.Actions[6].ID {
			t.Errorf("next_id: got %s, want %s", f.Actions[3].NextID, f.Actions[6].ID)
		}
		var cond, gotoOpt struct {
			FalseTargetID string `json:"false_target_id"`
			TargetID      string `json:"target_id"`
		}
		_ = json.Unmarshal(f.Actions[4].Option, &cond)
		_ = json.Unmarshal(f.Actions[5].Option, &gotoOpt)
		if cond.FalseTargetID != f.Actions[0].ID || gotoOpt.TargetID != f.Actions[1].ID {
			t.Errorf("condition and goto targets: got %s %s", cond.FalseTargetID, gotoOpt.TargetID)
		}
		// GET answers the same flow, and PUT of what GET answered keeps every id.
		var got apiFlow
		e.as(e.alice, "GET", "/v1.0/flows/"+f.ID, nil).wantStatus(http.StatusOK).decode(&got)
		var back apiFlow
		e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, got).wantStatus(http.StatusOK).decode(&back)
		for i := range got.Actions {
			if back.Actions[i].ID != got.Actions[i].ID || string(back.Actions[i].Option) != string(got.Actions[i].Option) {
				t.Errorf("action %d changed on a GET/PUT round trip: %+v -> %+v", i, got.Actions[i], back.Actions[i])
			}
		}
	})
}

func TestUpdateReplacesWholesale(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		target := e.createFlow(e.alice, `{"name":"target"}`)
		f := e.createFlow(e.alice, fmt.Sprintf(`{"name":"n","detail":"d","on_complete_flow_id":%q,"actions":[{"type":"answer"}]}`, target.ID))
		if f.OnCompleteFlowID != target.ID {
			t.Fatalf("on_complete_flow_id: got %q, want %q", f.OnCompleteFlowID, target.ID)
		}
		var u apiFlow
		e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, `{"name":"only a name"}`).wantStatus(http.StatusOK).decode(&u)
		if u.Name != "only a name" || u.Detail != "" || len(u.Actions) != 0 || u.OnCompleteFlowID != uuid.Nil.String() {
			t.Errorf("got %+v, want every field replaced", u)
		}
		if u.Actions == nil {
			t.Errorf("actions must be [] rather than null")
		}
	})
}

func TestFlowReferences(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		deleted := e.createFlow(e.alice, `{"name":"deleted"}`)
		e.as(e.alice, "DELETE", "/v1.0/flows/"+deleted.ID, nil).wantStatus(http.StatusNoContent)
		bobs := e.createFlow(e.bob, `{"name":"bob's"}`)
		for name, id := range map[string]string{"missing": uuid.NewString(), "deleted": deleted.ID, "another customer's": bobs.ID} {
			t.Run(name, func(t *testing.T) {
				body := fmt.Sprintf(`{"on_complete_flow_id":%q,"actions":[{"type":"fetch_flow","option":{"flow_id":%q}}]}`, id, id)
				errBody := e.as(e.alice, "POST", "/v1.0/flows", body).wantError(http.StatusBadRequest, flow.ReasonInvalidFlowReference)
				if len(errBody.Details) != 2 || errBody.Details[0].Pointer != "/on_complete_flow_id" ||
					errBody.Details[1].Pointer != "/actions/0/option/flow_id" {
					t.Errorf("details: got %+v", errBody.Details)
				}
			})
		}
	})
}

// TestListPagingOverHTTP pages through 1,000 flows that share one tm_create: each comes back exactly once.
func TestListPagingOverHTTP(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		alice, err := e.st.CustomerByName(context.Background(), "alice-co")
		if err != nil {
			t.Fatal(err)
		}
		def, _ := flow.Parse([]byte(`{"name":"same","actions":[{"type":"answer"}]}`), flow.Limits{})
		const n = 1000
		for i := 0; i < n; i++ {
			if _, err := e.st.CreateFlow(context.Background(), alice.ID, def, store.Author{Type: "user", ID: uuid.New(), Name: "seed"}); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Advance(time.Millisecond)
		for i := 0; i < 5; i++ {
			e.createFlow(e.alice, `{"name":"later"}`)
		}
		for _, size := range []int{1, 7, 100, 1000} {
			t.Run(fmt.Sprint(size), func(t *testing.T) {
				seen := map[string]bool{}
				token := ""
				for pages := 0; pages <= n+5; pages++ {
					var page apiFlowList
					e.as(e.alice, "GET", fmt.Sprintf("/v1.0/flows?page_size=%d&page_token=%s", size, strings.ReplaceAll(token, " ", "%20")), nil).
						wantStatus(http.StatusOK).decode(&page)
					if len(page.Result) == 0 {
						if page.NextPageToken != "" {
							t.Errorf("empty page: next_page_token %q, want \"\"", page.NextPageToken)
						}
						break
					}
					if len(page.Result) > store.MaxPageSize && len(page.Result) != n {
						t.Errorf("page of %d: only a group of one microsecond may exceed %d", len(page.Result), store.MaxPageSize)
					}
					for _, f := range page.Result {
						if seen[f.ID] {
							t.Fatalf("flow %s repeated", f.ID)
						}
						seen[f.ID] = true
					}
					token = page.NextPageToken
				}
				if len(seen) != n+5 {
					t.Errorf("got %d distinct flows, want %d", len(seen), n+5)
				}
			})
		}
	})
}

func TestPageSizeIsCapped(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		for i := 0; i < 102; i++ {
			e.clock.Advance(time.Microsecond)
			e.createFlow(e.alice, `{"name":"f"}`)
		}
		for _, q := range []string{"", "?page_size=101", "?page_size=100000"} {
			var page apiFlowList
			e.as(e.alice, "GET", "/v1.0/flows"+q, nil).wantStatus(http.StatusOK).decode(&page)
			if len(page.Result) != 100 {
				t.Errorf("%q: got %d flows, want 100", q, len(page.Result))
			}
		}
		var page apiFlowList
		e.as(e.alice, "GET", "/v1.0/flows?page_size=3", nil).wantStatus(http.StatusOK).decode(&page)
		if len(page.Result) != 3 {
			t.Errorf("page_size=3: got %d", len(page.Result))
		}
		// A token the client wrote itself works too.
		e.as(e.alice, "GET", "/v1.0/flows?page_token=2999-01-01%2000:00:00.000000", nil).wantStatus(http.StatusOK).decode(&page)
		if len(page.Result) != 100 {
			t.Errorf("handwritten token: got %d flows, want 100", len(page.Result))
		}
	})
}
