package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/store"
)

// userStates decides whether a login token was revoked: a token is good only while its generation is its user's
// and the user is neither disabled nor removed. Every request with a login token is checked, also when the token
// itself is remembered as verified (auth.Tokens).
//
// The users' states are remembered only while every committed change of users is heard, from any instance and
// from the command line (store.UserChangesHeard: on PostgreSQL, through the change listener that the flow cache
// uses). Then a change reaches every instance when PostgreSQL announces its commit, a few milliseconds later.
// While the listener is down, nothing is remembered and every request reads the user from the database: a token
// is never accepted on a state that may be stale, and when the database cannot be read the request is refused.
// A connection that dies without a word is noticed within two heartbeats (store.Config.ListenHeartbeat), which
// bounds how stale a remembered state can be; userStateMaxAge bounds it as well, whatever happens.
type userStates struct {
	live   atomic.Bool // changes are heard: states may be remembered
	now    func() time.Time
	mu     sync.RWMutex
	gen    uint64 // counts invalidations and resets: a read that raced with one is not remembered
	states map[uuid.UUID]rememberedUser
}

type rememberedUser struct {
	state  store.UserTokenState
	stored time.Time
}

// userStateMaxAge is how long a remembered state may be used; maxUserStates bounds how many are remembered.
const (
	userStateMaxAge = time.Minute
	maxUserStates   = 100_000
)

func newUserStates() *userStates {
	return &userStates{now: time.Now, states: map[uuid.UUID]rememberedUser{}}
}

// get returns the remembered state of a user, or the ticket to remember one read now.
func (u *userStates) get(id uuid.UUID) (store.UserTokenState, uint64, bool) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if r, ok := u.states[id]; ok && u.live.Load() && u.now().Sub(r.stored) < userStateMaxAge {
		return r.state, 0, true
	}
	return store.UserTokenState{}, u.gen, false
}

// put remembers a state read after get's ticket was taken, unless a change or reset happened since.
func (u *userStates) put(id uuid.UUID, st store.UserTokenState, ticket uint64) {
	if !u.live.Load() {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gen != ticket {
		return
	}
	if len(u.states) >= maxUserStates {
		for k := range u.states { // drop one at random
			delete(u.states, k)
			break
		}
	}
	u.states[id] = rememberedUser{state: st, stored: u.now()}
}

// UserChanged forgets a user (store.UserChangeListener).
func (u *userStates) UserChanged(id uuid.UUID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.gen++
	delete(u.states, id)
}

// FlowChanged is of no concern here (store.ChangeListener).
func (u *userStates) FlowChanged(uuid.UUID) {}

// ChangesReset forgets every user, and remembers from now on only if live (store.ChangeListener).
func (u *userStates) ChangesReset(live bool) {
	u.live.Store(false)
	u.mu.Lock()
	u.gen++
	clear(u.states)
	u.mu.Unlock()
	u.live.Store(live)
}

var _ store.UserChangeListener = (*userStates)(nil)

// notRevoked checks a login token's principal against its user's current state.
func (s *Server) notRevoked(ctx context.Context, p auth.Principal) error {
	st, ticket, ok := s.users.get(p.UserID)
	if !ok {
		var err error
		st, err = s.store.UserTokenState(ctx, p.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return errRevoked
		}
		if err != nil {
			return err
		}
		if s.store.UserChangesHeard() {
			s.users.put(p.UserID, st, ticket)
		}
	}
	if st.Disabled || st.Generation != p.Generation {
		return errRevoked
	}
	return nil
}

var errRevoked = errors.New("token revoked")

// listeners hands the store's change notifications to the flow cache (if any) and to the users' states.
type listeners struct {
	flows *flowCache
	users *userStates
	calls *Telephony
}

// CallHangupRequested hands a hangup requested on any instance to the SIP runner, if this instance holds the call.
func (l listeners) CallHangupRequested(id uuid.UUID) { l.calls.CallHangupRequested(id) }

func (l listeners) FlowChanged(id uuid.UUID) {
	if l.flows != nil {
		l.flows.FlowChanged(id)
	}
}

func (l listeners) UserChanged(id uuid.UUID) { l.users.UserChanged(id) }

func (l listeners) ChangesReset(live bool) {
	if l.flows != nil {
		l.flows.ChangesReset(live)
	}
	l.users.ChangesReset(live)
}

var (
	_ store.UserChangeListener = listeners{}
	_ store.CallChangeListener = listeners{}
)
