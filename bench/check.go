package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// These checks run once before measuring: a benchmark of wrong answers (or of invalid data) would measure nothing.

type apiFlow struct {
	ID       string `json:"id"`
	Revision int    `json:"revision"`
	TMCreate string `json:"tm_create"`
	Actions  []struct {
		ID     string          `json:"id"`
		Type   string          `json:"type"`
		NextID string          `json:"next_id"`
		Option json.RawMessage `json:"option"`
	} `json:"actions"`
}

// checkFlow reads flow k of customer 1 through the API and compares it with what was seeded.
func checkFlow(ctx context.Context, a *api, k int) error {
	n := customerFlow(k)
	want := seededDefinition(n)
	var got apiFlow
	if err := a.call(ctx, http.MethodGet, "/v1.0/flows/"+flowID(n).String(), nil, &got); err != nil {
		return err
	}
	if got.ID != flowID(n).String() || len(got.Actions) != len(want.Actions) {
		return fmt.Errorf("flow %d: got id %s with %d actions, want %s with %d", n, got.ID, len(got.Actions),
			flowID(n), len(want.Actions))
	}
	for i, act := range got.Actions {
		w := want.Actions[i]
		if act.ID != w.ID.String() || act.Type != string(w.Type) {
			return fmt.Errorf("flow %d, action %d: got %s %s, want %s %s", n, i, act.Type, act.ID, w.Type, w.ID)
		}
	}
	return nil
}

// checkPostgresAPI checks the seeded flows against flowbin's own rules and the answers of the listed scenarios.
func checkPostgresAPI(ctx context.Context, a *api, pageToken string, rep *report) error {
	if err := checkFlow(ctx, a, perCustomer); err != nil {
		return err
	}
	// The seeded flows must be valid flows, as flowbin itself judges them (warnings are allowed: flows have them).
	for k := 1; k <= perCustomer; k += perCustomer / 50 {
		n := customerFlow(k)
		var v struct {
			Valid    bool              `json:"valid"`
			Errors   []json.RawMessage `json:"errors"`
			Warnings []struct {
				Reason string `json:"reason"`
			} `json:"warnings"`
		}
		if err := a.call(ctx, http.MethodPost, "/v1.0/flows/validate", seededDefinition(n).body(), &v); err != nil {
			return err
		}
		if !v.Valid || len(v.Errors) > 0 {
			return fmt.Errorf("seeded flow %d is not valid: %s", n, v.Errors)
		}
		rep.validated++
		for _, w := range v.Warnings {
			rep.warnings[w.Reason]++
		}
	}
	// Lists are newest first: the first page starts at customer 1's newest flow, the deep page right after its
	// 1,000th newest.
	for _, page := range []struct {
		query string
		first int // k of the first flow of the page
	}{{"", perCustomer}, {"?page_token=" + url.QueryEscape(pageToken), perCustomer - 1000}} {
		var list struct {
			Result []apiFlow `json:"result"`
		}
		if err := a.call(ctx, http.MethodGet, "/v1.0/flows"+page.query, nil, &list); err != nil {
			return err
		}
		want := flowID(customerFlow(page.first)).String()
		if len(list.Result) != 100 || list.Result[0].ID != want {
			first := ""
			if len(list.Result) > 0 {
				first = list.Result[0].ID
			}
			return fmt.Errorf("GET /v1.0/flows%s: %d flows starting with %s, want 100 starting with %s",
				page.query, len(list.Result), first, want)
		}
	}
	return nil
}
