package server

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

// authenticate reads the caller's credentials for every operation that needs them and puts the principal in the
// request context. Accepted: Authorization: Bearer (login token or access key), ?token= and ?accesskey=.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		op := s.operation(c)
		if op == nil || op.public {
			return next(c)
		}
		cred, err := credential(c.Request())
		if err != nil {
			return err
		}
		p, err := s.principal(c.Request().Context(), cred)
		if err != nil {
			return err
		}
		c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), keyPrincipal, p)))
		return next(c)
	}
}

// credential picks the request's credential: the Authorization header first, then ?token=, then ?accesskey=.
func credential(r *http.Request) (string, error) {
	if h := r.Header.Get(echo.HeaderAuthorization); h != "" {
		scheme, value, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "" {
			return "", unauthenticated(reasonInvalidCredentials,
				"the Authorization header must be \"Bearer <token or access key>\"")
		}
		return strings.TrimSpace(value), nil
	}
	q := r.URL.Query()
	for _, name := range []string{"token", "accesskey"} {
		if v := q.Get(name); v != "" {
			return v, nil
		}
	}
	return "", unauthenticated(reasonAuthRequired,
		"this operation needs credentials: a token from POST /auth/login or an access key")
}

// principal verifies a credential: a login token by its signature and expiry, then against its user (revoked by a
// password change, a log-out, a disabling or a removal); an access key by its hash in the store (so that a
// deleted or expired key, or one whose creator is disabled, fails at once, on every instance).
func (s *Server) principal(ctx context.Context, cred string) (auth.Principal, error) {
	invalid := unauthenticated(reasonInvalidCredentials, "the token or access key is invalid, expired or revoked")
	if auth.LooksLikeToken(cred) {
		p, err := s.tokens.Verify(cred)
		if err != nil {
			return auth.Principal{}, invalid
		}
		if err := s.notRevoked(ctx, p); errors.Is(err, errRevoked) {
			return auth.Principal{}, invalid
		} else if err != nil {
			return auth.Principal{}, err
		}
		return p, nil
	}
	if !strings.HasPrefix(cred, auth.AccessKeyPrefix) {
		return auth.Principal{}, invalid
	}
	k, err := s.store.AccessKeyByHash(ctx, auth.HashAccessKey(cred))
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, invalid
	}
	if err != nil {
		return auth.Principal{}, err
	}
	p := auth.Principal{CustomerID: k.CustomerID, AccessKeyID: k.ID, AccessKeyName: k.Name}
	if k.UserID != nil {
		p.KeyOwnerID = *k.UserID
	}
	return p, nil
}

// principalFrom returns the authenticated caller. Operations that need credentials always have one.
func principalFrom(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(keyPrincipal).(auth.Principal)
	return p
}

// Login exchanges a username and password for a login token.
func (s *Server) Login(ctx context.Context, req gen.LoginRequestObject) (gen.LoginResponseObject, error) {
	if err := s.limitLogin(ctx, req.Body.Username); err != nil {
		return nil, err
	}
	u, err := s.store.UserByUsername(ctx, req.Body.Username)
	hash := ""
	switch {
	case err == nil:
		hash = u.PasswordHash
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	// An unknown user is checked against a dummy hash: the same answer, in about the same time.
	if !s.passwords.Check(hash, req.Body.Password) {
		s.metrics.LoginFailures.Inc()
		return nil, unauthenticated(reasonInvalidCredentials, "wrong username or password")
	}
	if u.TMDisable != nil {
		return nil, unauthenticated(reasonInvalidCredentials, "this user is disabled")
	}
	token, err := s.tokens.Issue(u.ID, u.CustomerID, u.Username, u.TokenGeneration)
	if err != nil {
		return nil, err
	}
	return gen.Login200JSONResponse{Username: u.Username, Token: token}, nil
}

// limitLogin counts a login attempt against the client's address and the username, in counters that every
// instance shares, and refuses it past either limit.
func (s *Server) limitLogin(ctx context.Context, username string) error {
	client, _ := ctx.Value(keyClientIP).(string)
	buckets := []struct {
		key, name string
		limit     int
	}{
		{"login:addr:" + client, "login_address", s.cfg.LoginAttemptsPerAddress},
		{"login:user:" + username, "login_user", s.cfg.LoginAttemptsPerUser},
	}
	for _, b := range buckets {
		hits, reset, err := s.store.Hit(ctx, b.key, s.cfg.LoginWindow)
		if err != nil {
			return err
		}
		if hits > b.limit {
			s.metrics.RateLimited.WithLabelValues(b.name).Inc()
			wait := int(math.Ceil(time.Until(reset).Seconds()))
			wait = max(wait, 1)
			e := newError(http.StatusTooManyRequests, statusResourceExhausted, reasonRateLimited,
				"too many login attempts; retry in %d seconds", wait)
			e.header = http.Header{"Retry-After": {strconv.Itoa(wait)}}
			return e
		}
	}
	return nil
}
