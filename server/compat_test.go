package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/server"
	"github.com/flowbin/flowbin/store/storetest"
)

// apiWritten is the answer to a flow write: the flow and its warnings.
type apiWritten struct {
	apiFlow
	Revision int           `json:"revision"`
	Warnings []errorDetail `json:"warnings"`
}

func (r *response) written() apiWritten {
	r.t.Helper()
	var w apiWritten
	r.decode(&w)
	return w
}

// warningHeaders are the answer's Warning headers, checked to be in the form 299 flowbin "<text>" and unquoted.
func (r *response) warningHeaders() []string {
	r.t.Helper()
	var out []string
	for _, v := range r.header.Values("Warning") {
		text, ok := strings.CutPrefix(v, `299 flowbin "`)
		if !ok || !strings.HasSuffix(text, `"`) {
			r.t.Fatalf("Warning %q is not 299 flowbin \"…\"", v)
		}
		text = strings.TrimSuffix(text, `"`)
		out = append(out, strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(text))
	}
	return out
}

func pointers(ds []errorDetail) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Pointer
	}
	return out
}

// withFields sets the server's field validation mode.
func withFields(mode string) envOption {
	return func(c *server.Config) { c.FieldValidation = mode }
}

// TestFieldValidation: unknown fields are dropped with warnings (Warn, the default), refused (Strict) or dropped
// silently (Ignore), by the request's ?field_validation= or the server's setting; VoIPbin's fields that flowbin
// does not use are quiet in every mode.
func TestFieldValidation(t *testing.T) {
	t.Parallel()
	const body = `{"name":"modes","flow_name":"x","direct_hash":"h","persist":false,"type":"flow",` +
		`"actions":[{"id":"a","type":"answer","nextid":"x","tm_execute":""}]}`
	unknown := []string{"/flow_name", "/actions/0/nextid"}
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		count := func() int {
			var l apiFlowList
			e.as(e.alice, "GET", "/v1.0/flows", nil).wantStatus(http.StatusOK).decode(&l)
			return len(l.Result)
		}

		// Warn, the default: stored without the unknown fields, each reported in a header and in the body.
		res := e.as(e.alice, "POST", "/v1.0/flows", body).wantStatus(http.StatusOK)
		w := res.written()
		if got := pointers(w.Warnings); !slices.Equal(got, unknown) {
			t.Errorf("Warn: body warnings at %v, want %v", got, unknown)
		}
		headers := res.warningHeaders()
		if len(headers) != 2 || headers[0] != `/flow_name: unknown field "flow_name" was dropped; a flow has name, detail, actions and on_complete_flow_id` ||
			!strings.HasPrefix(headers[1], `/actions/0/nextid: unknown action field "nextid" was dropped`) {
			t.Errorf("Warn: Warning headers %q", headers)
		}
		var got apiWritten
		e.as(e.alice, "GET", "/v1.0/flows/"+w.ID, nil).wantStatus(http.StatusOK).decode(&got)
		if got.Name != "modes" || len(got.Actions) != 1 || got.Actions[0].Type != "answer" || got.Warnings != nil {
			t.Errorf("Warn: stored %+v", got)
		}
		if res := e.as(e.alice, "GET", "/v1.0/flows/"+w.ID, nil); len(res.header.Values("Warning")) != 0 {
			t.Errorf("a read has no warnings: %q", res.header.Values("Warning"))
		}

		// Strict: 400 with every unknown field, nothing stored.
		errBody := e.as(e.alice, "POST", "/v1.0/flows?field_validation=Strict", body).wantError(http.StatusBadRequest, "UNKNOWN_FIELD")
		if got := pointers(errBody.Details); !slices.Equal(got, unknown) {
			t.Errorf("Strict: details at %v, want %v", got, unknown)
		}
		e.as(e.alice, "PUT", "/v1.0/flows/"+w.ID+"?field_validation=Strict", body).wantError(http.StatusBadRequest, "UNKNOWN_FIELD")
		if n := count(); n != 1 {
			t.Errorf("Strict: %d flows, want 1", n)
		}

		// Ignore: stored, nothing said.
		res = e.as(e.alice, "PUT", "/v1.0/flows/"+w.ID+"?field_validation=Ignore", strings.Replace(body, `"modes"`, `"ignored"`, 1)).wantStatus(http.StatusOK)
		if w := res.written(); w.Name != "ignored" || w.Warnings != nil || len(res.header.Values("Warning")) != 0 {
			t.Errorf("Ignore: got %+v, Warning %q", w, res.header.Values("Warning"))
		}

		// VoIPbin's own fields alone: no warning in any mode.
		quiet := `{"name":"quiet","direct_hash":"h","direct_id":"` + uuid.NewString() + `","persist":true,"type":"flow",` +
			`"revision":3,"warnings":[{"reason":"UNKNOWN_FIELD","message":"m"}],"on_complete_flow_id":"00000000-0000-0000-0000-000000000000",` +
			`"actions":[{"type":"answer","tm_execute":"2020-10-11 01:00:00.000001"}]}`
		for _, mode := range flow.FieldValidationNames {
			res := e.as(e.alice, "POST", "/v1.0/flows?field_validation="+mode, quiet).wantStatus(http.StatusOK)
			if w := res.written(); w.Warnings != nil || len(res.header.Values("Warning")) != 0 {
				t.Errorf("%s: VoIPbin's fields must be quiet: %+v", mode, w.Warnings)
			}
		}

		// Bodies the OpenAPI validator checks follow the mode too.
		res = e.as(e.alice, "POST", "/v1.0/accesskeys", `{"name":"k","expire":86400,"scope":"all"}`).wantStatus(http.StatusOK)
		var k apiAccesskey
		res.decode(&k)
		if h := res.warningHeaders(); k.Name != "k" || len(h) != 1 || h[0] != `/scope: unknown field "scope" was dropped` {
			t.Errorf("access key, Warn: %+v, Warning %q", k, h)
		}
		e.as(e.alice, "POST", "/v1.0/accesskeys?field_validation=Strict", `{"expire":86400,"scope":"all"}`).wantError(http.StatusBadRequest, "INVALID_REQUEST_BODY")
		// An access key read back and sent with PUT: its read-only fields are quiet, even in Strict mode.
		var read map[string]any
		e.as(e.alice, "GET", "/v1.0/accesskeys/"+k.ID, nil).wantStatus(http.StatusOK).decode(&read)
		read["name"] = "renamed"
		res = e.as(e.alice, "PUT", "/v1.0/accesskeys/"+k.ID, read).wantStatus(http.StatusOK)
		if len(res.header.Values("Warning")) != 0 {
			t.Errorf("access key read back: Warning %q", res.header.Values("Warning"))
		}
		strict := newEnv(t, b, strictFields)
		sk := strict.createKey(strict.alice, `{"expire":86400,"id":"x","tm_create":"","token":"fbk_x"}`)
		read["name"] = "strict"
		strict.as(strict.alice, "PUT", "/v1.0/accesskeys/"+sk.ID, read).wantStatus(http.StatusOK)
		read["scope"] = "all"
		strict.as(strict.alice, "PUT", "/v1.0/accesskeys/"+sk.ID, read).wantError(http.StatusBadRequest, "INVALID_REQUEST_BODY")
		if res := e.as(e.alice, "POST", "/v1.0/accesskeys?field_validation=Ignore", `{"expire":86400,"scope":"all"}`).wantStatus(http.StatusOK); len(res.header.Values("Warning")) != 0 {
			t.Errorf("access key, Ignore: Warning %q", res.header.Values("Warning"))
		}
		res = e.do("POST", "/auth/login", `{"username":"alice","password":"alice-password","remember":true}`).wantStatus(http.StatusOK)
		if h := res.warningHeaders(); len(h) != 1 || !strings.HasPrefix(h[0], "/remember: ") {
			t.Errorf("login, Warn: Warning %q", h)
		}

		// An activeflow start with a field that flowbin does not take: started, with a warning.
		res = e.as(e.alice, "POST", "/v1.0/activeflows", `{"actions":[{"type":"answer"}],"webhook_method":"POST","reference_activeflow_id":"x"}`).wantStatus(http.StatusOK)
		if h := res.warningHeaders(); len(h) != 1 || !strings.HasPrefix(h[0], `/reference_activeflow_id: unknown field "reference_activeflow_id" was dropped`) {
			t.Errorf("activeflow, Warn: Warning %q", h)
		}
		e.as(e.alice, "POST", "/v1.0/activeflows?field_validation=Strict", `{"actions":[{"type":"answer"}],"reference_activeflow_id":"x"}`).
			wantError(http.StatusBadRequest, "UNKNOWN_FIELD")
	})
}

// TestFieldValidationServerSetting: FLOWBIN_FIELD_VALIDATION is the mode of requests that do not say.
func TestFieldValidationServerSetting(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b, withFields("Strict"))
		const body = `{"name":"x","flow_name":"y"}`
		e.as(e.alice, "POST", "/v1.0/flows", body).wantError(http.StatusBadRequest, "UNKNOWN_FIELD")
		e.as(e.alice, "POST", "/v1.0/accesskeys", `{"expire":86400,"scope":"all"}`).wantError(http.StatusBadRequest, "INVALID_REQUEST_BODY")
		if w := e.as(e.alice, "POST", "/v1.0/flows?field_validation=Warn", body).wantStatus(http.StatusOK).written(); len(w.Warnings) != 1 {
			t.Errorf("Warn by request: warnings %+v", w.Warnings)
		}

		e = newEnv(t, b, withFields("Ignore"))
		res := e.as(e.alice, "POST", "/v1.0/flows", body).wantStatus(http.StatusOK)
		if w := res.written(); w.Warnings != nil || len(res.header.Values("Warning")) != 0 {
			t.Errorf("Ignore: %+v", w.Warnings)
		}
	})
	if _, err := server.New(server.Config{FieldValidation: "Lenient"}, nil, nil, nil, nil); err == nil {
		t.Errorf("an unknown mode must be refused")
	}
}

// TestWriteWarnings: create, PUT and restore answer the warnings of validation in Warning headers and in the body,
// an idempotent replay answers them again, and their headers are bounded.
func TestWriteWarnings(t *testing.T) {
	t.Parallel()
	const warned = `{"name":"warned","actions":[
		{"id":"top","type":"talk","option":{"text":"hi","langauge":"en-US"}},
		{"type":"goto","option":{"target_id":"top"}},
		{"type":"hangup"},
		{"type":"beep"}]}`
	want := []string{
		`/actions/0/option/langauge: talk has no option "langauge"; it is kept as sent`,
		`/actions/1/option/loop_count: goto without loop_count never jumps: loop_count defaults to 0`,
		`/actions/3: action 3 (beep) can never run: no action leads to it`,
	}
	check := func(t *testing.T, what string, res *response) apiWritten {
		t.Helper()
		w := res.written()
		if got := res.warningHeaders(); !slices.Equal(got, want) {
			t.Errorf("%s: Warning headers\n%q, want\n%q", what, got, want)
		}
		if got := pointers(w.Warnings); !slices.Equal(got, []string{"/actions/0/option/langauge", "/actions/1/option/loop_count", "/actions/3"}) {
			t.Errorf("%s: body warnings %+v", what, w.Warnings)
		}
		if strings.Contains(res.header.Get("Warning"), `"langauge"`) || !strings.Contains(res.header.Get("Warning"), `\"langauge\"`) {
			t.Errorf("%s: quotes in a warning must be escaped: %s", what, res.header.Get("Warning"))
		}
		return w
	}
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := check(t, "create", e.as(e.alice, "POST", "/v1.0/flows", warned).wantStatus(http.StatusOK))
		if !strings.Contains(string(f.Actions[0].Option), `"langauge":"en-US"`) {
			t.Errorf("an unknown option key is stored as sent: %s", f.Actions[0].Option)
		}
		clean := e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, `{"name":"clean","actions":[{"type":"hangup"}]}`).wantStatus(http.StatusOK)
		if w := clean.written(); w.Revision != 2 || w.Warnings != nil || len(clean.header.Values("Warning")) != 0 {
			t.Errorf("a clean PUT has no warnings: %+v, %q", w, clean.header.Values("Warning"))
		}
		check(t, "PUT", e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, warned).wantStatus(http.StatusOK))
		// (Its unlabelled actions got fresh ids in revision 3: restoring revision 1 writes revision 4.)
		restored := check(t, "restore", e.as(e.alice, "POST", "/v1.0/flows/"+f.ID+"/revisions/1/restore", nil).wantStatus(http.StatusOK))
		if restored.Revision != 4 || restored.Actions[0].ID != f.Actions[0].ID || restored.Actions[1].ID != f.Actions[1].ID {
			t.Errorf("restore: got revision %d, actions %+v; want 4 with revision 1's actions", restored.Revision, restored.Actions)
		}

		// An idempotent create answers its warnings again when replayed, unknown fields included.
		withUnknown := strings.Replace(warned, `"name":"warned"`, `"name":"once","flow_name":"x"`, 1)
		first := e.as(e.alice, "POST", "/v1.0/flows", withUnknown, "Idempotency-Key", "warned-once").wantStatus(http.StatusOK)
		again := e.as(e.alice, "POST", "/v1.0/flows", withUnknown, "Idempotency-Key", "warned-once").wantStatus(http.StatusOK)
		if again.header.Get("Idempotent-Replayed") != "true" || !slices.Equal(first.warningHeaders(), again.warningHeaders()) ||
			len(first.warningHeaders()) != 4 {
			t.Errorf("replay: Warning headers %q, first %q", again.warningHeaders(), first.warningHeaders())
		}
		key := e.as(e.alice, "POST", "/v1.0/accesskeys", `{"expire":86400,"scope":"x"}`, "Idempotency-Key", "key-once").wantStatus(http.StatusOK)
		keyAgain := e.as(e.alice, "POST", "/v1.0/accesskeys", `{"expire":86400,"scope":"x"}`, "Idempotency-Key", "key-once").wantStatus(http.StatusOK)
		if len(key.warningHeaders()) != 1 || !slices.Equal(key.warningHeaders(), keyAgain.warningHeaders()) {
			t.Errorf("access key replay: Warning headers %q, first %q", keyAgain.warningHeaders(), key.warningHeaders())
		}

		// Many warnings: the headers stay within 4 KiB, the last says how many were left out; the body holds
		// the report's first 100.
		keys := make([]string, 300)
		for i := range keys {
			keys[i] = fmt.Sprintf(`"legacy_option_%03d":"%s"`, i, strings.Repeat("v", 10))
		}
		many := `{"name":"many","actions":[{"type":"talk","option":{"text":"hi",` + strings.Join(keys, ",") + `}}]}`
		res := e.as(e.alice, "POST", "/v1.0/flows", many).wantStatus(http.StatusOK)
		values, size := res.header.Values("Warning"), 0
		for _, v := range values {
			size += len(v)
		}
		if size > 4096 || len(values) < 10 || !strings.Contains(values[len(values)-1], "more warnings were left out") {
			t.Errorf("%d Warning headers, %d bytes; last %q", len(values), size, values[len(values)-1])
		}
		if w := res.written(); len(w.Warnings) != flow.MaxProblems {
			t.Errorf("body: %d warnings, want %d", len(w.Warnings), flow.MaxProblems)
		}
		// The count is true: those listed and those said to be left out are the 300 found.
		var leftOut int
		if _, err := fmt.Sscanf(strings.TrimPrefix(values[len(values)-1], `299 flowbin "`), "%d more warnings", &leftOut); err != nil {
			t.Fatalf("last Warning %q: %v", values[len(values)-1], err)
		}
		if listed := len(values) - 1; listed+leftOut != 300 {
			t.Errorf("%d warnings listed and %d said to be left out, want 300 in all", listed, leftOut)
		}
		// /validate lists the first 100 and says how many it did not list.
		var rep struct {
			Warnings          []errorDetail `json:"warnings"`
			WarningsNotListed *int          `json:"warnings_not_listed"`
			ErrorsNotListed   *int          `json:"errors_not_listed"`
		}
		e.as(e.alice, "POST", "/v1.0/flows/validate", many).wantStatus(http.StatusOK).decode(&rep)
		if len(rep.Warnings) != flow.MaxProblems || rep.WarningsNotListed == nil || *rep.WarningsNotListed != 200 ||
			rep.ErrorsNotListed == nil || *rep.ErrorsNotListed != 0 {
			t.Errorf("validate: %d warnings listed, warnings_not_listed %v, errors_not_listed %v; want 100, 200, 0",
				len(rep.Warnings), rep.WarningsNotListed, rep.ErrorsNotListed)
		}
		var errs []string
		for i := range 150 {
			errs = append(errs, fmt.Sprintf(`{"type":"nope_%d"}`, i))
		}
		e.as(e.alice, "POST", "/v1.0/flows/validate", `{"name":"bad","actions":[`+strings.Join(errs, ",")+`]}`).
			wantStatus(http.StatusOK).decode(&rep)
		if rep.ErrorsNotListed == nil || *rep.ErrorsNotListed != 50 {
			t.Errorf("validate of 150 errors: errors_not_listed %v, want 50", rep.ErrorsNotListed)
		}
	})
}

// TestLabelsKeepTheirIDs: a label's id is derived from the flow and the label, so the same labelled body PUT
// twice writes one revision, references are rewritten, executions name the same ids across an edit that kept the
// label, and clients' UUIDs are kept.
func TestLabelsKeepTheirIDs(t *testing.T) {
	t.Parallel()
	const given = "b34aa8a4-0b30-11eb-8016-1f5bc75b1c04"
	labelled := `{"name":"labels","actions":[
		{"id":"greet","type":"answer"},
		{"id":"` + given + `","type":"talk","option":{"text":"hi"},"next_id":"bye"},
		{"id":"loop","type":"goto","option":{"target_id":"greet","loop_count":1}},
		{"id":"bye","type":"hangup"}]}`
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.as(e.alice, "POST", "/v1.0/flows", labelled).wantStatus(http.StatusOK).written()
		ns := uuid.MustParse(f.ID)
		greet, loop, bye := flow.LabelID(ns, "greet"), flow.LabelID(ns, "loop"), flow.LabelID(ns, "bye")
		ids := []string{f.Actions[0].ID, f.Actions[1].ID, f.Actions[2].ID, f.Actions[3].ID}
		if !slices.Equal(ids, []string{greet.String(), given, loop.String(), bye.String()}) {
			t.Errorf("ids %v, want the labels' UUIDv5 and the client's UUID", ids)
		}
		if f.Actions[1].NextID != bye.String() || string(f.Actions[2].Option) != fmt.Sprintf(`{"target_id":%q,"loop_count":1}`, greet) {
			t.Errorf("references to labels must be rewritten: %+v", f.Actions)
		}
		run := func() string {
			t.Helper()
			a := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
			if a.CurrentAction == nil || len(a.ExecutedActions) == 0 || a.ExecutedActions[0].ID != a.CurrentAction.ID {
				t.Fatalf("activeflow %+v: want the answer as its first executed and current action", a)
			}
			return a.ExecutedActions[0].ID
		}
		before := run()

		// The same labelled body, PUT twice: identical to the stored revision, nothing written.
		for range 2 {
			w := e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, labelled).wantStatus(http.StatusOK).written()
			if w.Revision != 1 || w.TMUpdate != "" {
				t.Errorf("identical labelled PUT: revision %d, tm_update %q; want 1 and none", w.Revision, w.TMUpdate)
			}
		}
		// An edit that keeps the labels: one new revision, the labelled actions keep their ids, and so do the
		// actions an execution runs.
		edited := strings.Replace(labelled, `"text":"hi"`, `"text":"hello"`, 1)
		for range 2 {
			w := e.as(e.alice, "PUT", "/v1.0/flows/"+f.ID, edited).wantStatus(http.StatusOK).written()
			if w.Revision != 2 || w.Actions[0].ID != greet.String() || w.Actions[3].ID != bye.String() {
				t.Errorf("edit: revision %d, ids %s %s", w.Revision, w.Actions[0].ID, w.Actions[3].ID)
			}
		}
		if hist := e.revisions(e.alice, f.ID, ""); len(hist.Result) != 2 {
			t.Errorf("%d revisions, want 2", len(hist.Result))
		}
		if after := run(); after != before || after != greet.String() {
			t.Errorf("executions: executed action %s before the edit, %s after; want %s", before, after, greet)
		}

		// Another flow with the same labels gets other ids.
		other := e.as(e.alice, "POST", "/v1.0/flows", labelled).wantStatus(http.StatusOK).written()
		if other.Actions[0].ID == greet.String() || other.Actions[1].ID != given {
			t.Errorf("another flow: ids %s and %s", other.Actions[0].ID, other.Actions[1].ID)
		}
	})
}

// TestVoIPbinPaging: page tokens in VoIPbin's RFC 3339 form work like the seed's; page_size=0 is the default.
func TestVoIPbinPaging(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		for i := range 3 {
			e.createFlow(e.alice, fmt.Sprintf(`{"name":"f%d"}`, i))
			e.clock.Advance(1500 * time.Microsecond)
		}
		page := func(query string) apiFlowList {
			t.Helper()
			var l apiFlowList
			e.as(e.alice, "GET", "/v1.0/flows?"+query, nil).wantStatus(http.StatusOK).decode(&l)
			return l
		}
		names := func(l apiFlowList) string {
			var out []string
			for _, f := range l.Result {
				out = append(out, f.Name)
			}
			return strings.Join(out, ",")
		}
		if got := names(page("page_size=0")); got != "f2,f1,f0" {
			t.Errorf("page_size=0: got %s, want all three", got)
		}
		first := page("page_size=1")
		seed, err := time.Parse(flow.TimeLayout, first.NextPageToken)
		if err != nil {
			t.Fatal(err)
		}
		for _, token := range []string{
			first.NextPageToken,
			seed.Format("2006-01-02T15:04:05.000000Z"),
			seed.In(time.FixedZone("KST", 9*3600)).Format("2006-01-02T15:04:05.000000-07:00"),
			seed.Add(-500 * time.Nanosecond).Format(time.RFC3339Nano), // rounds up to the token's microsecond
		} {
			if got := names(page("page_size=1&page_token=" + url.QueryEscape(token))); got != "f1" {
				t.Errorf("page_token %s: got %s, want f1", token, got)
			}
		}
		q := "page_size=0&page_token=" + url.QueryEscape(seed.Format(time.RFC3339Nano))
		if got := names(page(q)); got != "f1,f0" {
			t.Errorf("%s: got %s, want f1,f0", q, got)
		}
		var keys struct{ Result []apiAccesskey }
		e.as(e.alice, "GET", "/v1.0/accesskeys?page_size=0&page_token=2999-01-01T00:00:00.000000Z", nil).wantStatus(http.StatusOK).decode(&keys)
		e.as(e.alice, "GET", "/v1.0/activeflows?page_size=0&page_token=2999-01-01T00:00:00.000000Z", nil).wantStatus(http.StatusOK)
		e.as(e.alice, "GET", "/v1.0/flows/"+first.Result[0].ID+"/revisions?page_size=0", nil).wantStatus(http.StatusOK)
		e.as(e.alice, "GET", "/v1.0/flows?page_size=-1", nil).wantError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
		e.as(e.alice, "GET", "/v1.0/flows?page_size=0.5", nil).wantError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER")
	})
}

// TestMeAndCustomer: /v1.0/me answers the user of a token, or the access key, with its customer; /v1.0/customer
// the caller's customer; each customer sees only its own.
func TestMeAndCustomer(t *testing.T) {
	t.Parallel()
	type apiCustomer struct {
		ID, Name, Detail, Email, Address string
		PhoneNumber                      string `json:"phone_number"`
		WebhookURI                       string `json:"webhook_uri"`
		WebhookMethod                    string `json:"webhook_method"`
		BillingAccountID                 string `json:"billing_account_id"`
		TMCreate                         string `json:"tm_create"`
		TMUpdate                         string `json:"tm_update"`
		TMDelete                         string `json:"tm_delete"`
	}
	type apiMe struct {
		ID         string
		CustomerID string `json:"customer_id"`
		Username   string
		Name       string
		Detail     string
		Permission int
		Status     string
		TagIDs     []string `json:"tag_ids"`
		TMCreate   string   `json:"tm_create"`
		Customer   apiCustomer
	}
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		u, err := e.st.UserByUsername(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		var me apiMe
		e.as(e.alice, "GET", "/v1.0/me", nil).wantStatus(http.StatusOK).decode(&me)
		if me.ID != u.ID.String() || me.Username != "alice" || me.Name != "alice" || me.CustomerID != e.alice.customerID ||
			me.Permission != 32 || me.TagIDs == nil || me.TMCreate == "" {
			t.Errorf("me (token): %+v", me)
		}
		if me.Customer.ID != e.alice.customerID || me.Customer.Name != "alice-co" || me.Customer.TMCreate == "" ||
			me.Customer.WebhookURI != "" || me.Customer.TMDelete != "" {
			t.Errorf("me's customer: %+v", me.Customer)
		}

		k := e.createKey(e.alice, `{"name":"vn cli","detail":"laptop","expire":86400}`)
		var byKey apiMe
		e.do("GET", "/v1.0/me?accesskey="+k.Token, nil).wantStatus(http.StatusOK).decode(&byKey)
		if byKey.ID != k.ID || byKey.Name != "vn cli" || byKey.Detail != "laptop" || byKey.Username != "alice" || byKey.Status != "offline" ||
			byKey.CustomerID != e.alice.customerID || byKey.Customer.Name != "alice-co" {
			t.Errorf("me (access key): %+v", byKey)
		}

		var c apiCustomer
		e.do("GET", "/v1.0/customer?accesskey="+k.Token, nil).wantStatus(http.StatusOK).decode(&c)
		if c != me.Customer {
			t.Errorf("customer %+v, want %+v", c, me.Customer)
		}
		// The webhook settings, as stored.
		if err := e.st.SetCustomerWebhook(t.Context(), uuid.MustParse(e.alice.customerID), "https://example.com/hook", "PUT", ""); err != nil {
			t.Fatal(err)
		}
		e.as(e.alice, "GET", "/v1.0/customer", nil).wantStatus(http.StatusOK).decode(&c)
		if c.WebhookURI != "https://example.com/hook" || c.WebhookMethod != "PUT" || c.TMUpdate == "" || c.Name != "alice-co" {
			t.Errorf("customer with a webhook: %+v", c)
		}
		e.as(e.alice, "GET", "/v1.0/me", nil).wantStatus(http.StatusOK).decode(&me)
		if me.Customer != c {
			t.Errorf("me's customer %+v, want %+v", me.Customer, c)
		}
		e.as(e.bob, "GET", "/v1.0/customer", nil).wantStatus(http.StatusOK).decode(&c)
		if c.ID != e.bob.customerID || c.Name != "bob-co" || c.WebhookURI != "" {
			t.Errorf("bob's customer: %+v", c)
		}
		e.do("GET", "/v1.0/me", nil).wantError(http.StatusUnauthorized, "AUTHENTICATION_REQUIRED")
		e.as(e.alice, "DELETE", "/v1.0/accesskeys/"+k.ID, nil).wantStatus(http.StatusNoContent)
		e.do("GET", "/v1.0/me?accesskey="+k.Token, nil).wantStatus(http.StatusUnauthorized)
	})
}

// TestHostileBodiesWarned sends the hostile bodies to every operation with a body in the default mode (Warn), where
// unknown fields are accepted: no answer is a 5xx, and every Warning header is one well-formed quoted string, even
// for keys made of quotes, backslashes and control characters.
func TestHostileBodiesWarned(t *testing.T) {
	// Not in parallel with the package: CPU-bound (many large or random requests), its requests could wait past the
	// client timeout under the race detector. Its two stores' runs share the cores instead.
	storetest.EachParallel(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		f := e.createFlow(e.alice, `{"name":"f","actions":[{"type":"answer"}]}`)
		k := e.createKey(e.alice, `{"expire":86400}`)
		a := e.startActiveflow(e.alice, `{"flow_id":"`+f.ID+`"}`)
		bodies := []any{`{"name":"x","a\nb\"c\\d\u0007e\u2028":1,"` + strings.Repeat("k", 2000) + `":2}`}
		for _, hb := range hostileBodies {
			if hb.contentType == "application/json" {
				bodies = append(bodies, hb.body)
			}
		}
		spec := contract.Spec()
		n := 0
		for _, path := range spec.Paths.InMatchingOrder() {
			for method, op := range spec.Paths.Find(path).Operations() {
				if op.RequestBody == nil {
					continue
				}
				id := f.ID
				switch {
				case strings.HasPrefix(path, "/v1.0/accesskeys/"):
					id = k.ID
				case strings.HasPrefix(path, "/v1.0/activeflows/"):
					id = a.ID
				}
				concrete := strings.ReplaceAll(strings.ReplaceAll(path, "{id}", id), "{revision}", "1")
				for _, body := range bodies {
					res := e.as(e.alice, method, concrete, body)
					n++
					if res.status >= 500 {
						t.Errorf("%s %s: %d %.200s", method, concrete, res.status, res.body)
					}
					size := 0
					for _, v := range res.header.Values("Warning") {
						size += len(v)
						inner, ok := strings.CutPrefix(v, `299 flowbin "`)
						if !ok || !strings.HasSuffix(inner, `"`) || strings.ContainsAny(v, "\r\n\x00\x07") {
							t.Errorf("%s %s: malformed Warning %q", method, concrete, v)
						}
						if unescaped := strings.NewReplacer(`\\`, "", `\"`, "").Replace(strings.TrimSuffix(inner, `"`)); strings.Contains(unescaped, `"`) {
							t.Errorf("%s %s: unescaped quote in Warning %q", method, concrete, v)
						}
					}
					if size > 4096 {
						t.Errorf("%s %s: %d bytes of Warning headers", method, concrete, size)
					}
				}
			}
		}
		if n < 100 {
			t.Errorf("only %d requests", n)
		}
	})
}
