package server

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/store"
)

// TestUserStatesNeverStale: a state is remembered only while changes are heard, a read that raced with a change
// (or a reset) is not remembered, a change or a reset forgets, and nothing is used beyond userStateMaxAge.
func TestUserStatesNeverStale(t *testing.T) {
	u := newUserStates()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	u.now = func() time.Time { return now }
	id := uuid.New()
	st := store.UserTokenState{Generation: 3}

	_, ticket, _ := u.get(id)
	u.put(id, st, ticket)
	if _, _, ok := u.get(id); ok {
		t.Fatal("remembered while changes are not heard")
	}
	u.ChangesReset(true)
	_, ticket, _ = u.get(id)
	u.put(id, st, ticket)
	if got, _, ok := u.get(id); !ok || got != st {
		t.Fatalf("not remembered while live: %v %v", got, ok)
	}
	u.UserChanged(id)
	if _, _, ok := u.get(id); ok {
		t.Fatal("still remembered after the user changed")
	}
	// A read that began before a change of anyone is not kept: it may predate the change.
	_, ticket, _ = u.get(id)
	u.UserChanged(uuid.New())
	u.put(id, st, ticket)
	if _, _, ok := u.get(id); ok {
		t.Fatal("a read that raced with a change was remembered")
	}
	_, ticket, _ = u.get(id)
	u.put(id, st, ticket)
	now = now.Add(userStateMaxAge)
	if _, _, ok := u.get(id); ok {
		t.Fatal("used beyond its maximum age")
	}
	_, ticket, _ = u.get(id)
	u.put(id, st, ticket)
	u.ChangesReset(false)
	if _, _, ok := u.get(id); ok {
		t.Fatal("remembered after the listener went down")
	}
	u.ChangesReset(true)
	for range maxUserStates + 10 {
		_, ticket, _ := u.get(id)
		u.put(uuid.New(), st, ticket)
	}
	if len(u.states) > maxUserStates {
		t.Errorf("%d states remembered, bound %d", len(u.states), maxUserStates)
	}
}
