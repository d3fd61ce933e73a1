package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestTokens(t *testing.T) {
	tokens, err := NewTokens(secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tokens.now = func() time.Time { return now }
	user, customer := uuid.New(), uuid.New()
	tok, err := tokens.Issue(user, customer, "alice", 3)
	if err != nil {
		t.Fatal(err)
	}
	if !LooksLikeToken(tok) {
		t.Errorf("a token must look like a JWT: %s", tok)
	}
	p, err := tokens.Verify(tok)
	if err != nil || p.UserID != user || p.CustomerID != customer || p.Username != "alice" || p.Generation != 3 {
		t.Fatalf("verify: got %+v, %v", p, err)
	}
	now = now.Add(time.Hour + time.Second)
	if _, err := tokens.Verify(tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("expired: got %v, want ErrInvalid", err)
	}
	other, _ := NewTokens([]byte("another secret of at least 32 bytes"), time.Hour)
	other.now = tokens.now
	if _, err := other.Verify(tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("another secret: got %v, want ErrInvalid", err)
	}
	if _, err := NewTokens([]byte("short"), time.Hour); err == nil {
		t.Errorf("a short secret must be refused")
	}
	if _, err := NewTokens(secret, 0); err == nil {
		t.Errorf("a zero lifetime must be refused")
	}
}

// TestTokensRemembered: a verified token is remembered until it expires, never beyond, and never stands for
// another token; the memory is bounded.
func TestTokensRemembered(t *testing.T) {
	tokens, _ := NewTokens(secret, time.Minute)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tokens.now = func() time.Time { return now }
	tok, _ := tokens.Issue(uuid.New(), uuid.New(), "alice", 0)
	if _, err := tokens.Verify(tok); err != nil {
		t.Fatal(err)
	}
	// The same token with a character of its signature changed.
	i := len(tok) - 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	forged := tok[:i] + string(c) + tok[i+1:]
	if _, err := tokens.Verify(forged); !errors.Is(err, ErrInvalid) {
		t.Errorf("a forged token passed after the real one was remembered: %v", err)
	}
	now = now.Add(59 * time.Second)
	if _, err := tokens.Verify(tok); err != nil {
		t.Errorf("still valid: %v", err)
	}
	now = now.Add(time.Second)
	if _, err := tokens.Verify(tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("expired, though remembered: got %v", err)
	}
	for i := range maxVerified + 50 {
		tok, _ := tokens.Issue(uuid.New(), uuid.New(), "user"+strings.Repeat("x", i%7), i)
		if _, err := tokens.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tokens.verified); n > maxVerified {
		t.Errorf("%d tokens remembered, bound %d", n, maxVerified)
	}
}

func TestAccessKeys(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		key, hash, prefix, err := NewAccessKey()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(key, AccessKeyPrefix) || len(key) != len(AccessKeyPrefix)+43 || LooksLikeToken(key) {
			t.Fatalf("key %q", key)
		}
		if prefix != key[:8] || hash != HashAccessKey(key) || len(hash) != 64 || strings.Contains(hash, key) {
			t.Fatalf("prefix %q, hash %q of %q", prefix, hash, key)
		}
		if seen[key] {
			t.Fatalf("repeated key")
		}
		seen[key] = true
	}
}

func TestPasswords(t *testing.T) {
	p, err := NewPasswords(4)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := p.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Check(hash, "correct horse") || p.Check(hash, "wrong") {
		t.Errorf("check")
	}
	// An unknown user (no hash) never matches, not even the dummy's own password, and costs a bcrypt
	// comparison of the same cost as a real one: the answers take about the same time.
	if p.Check("", "flowbin timing equaliser") {
		t.Errorf("an unknown user matched")
	}
	if c, err := bcrypt.Cost(p.dummy); err != nil || c != 4 {
		t.Errorf("dummy hash cost: got %d, %v, want 4", c, err)
	}
	if _, err := p.Hash(""); err == nil {
		t.Errorf("an empty password must be refused")
	}
	if _, err := p.Hash(strings.Repeat("x", 73)); err == nil {
		t.Errorf("a password longer than bcrypt's 72 bytes must be refused")
	}
}

// TestSealer: a sealed value opens with the same secret and context only, and does not hold its plaintext.
func TestSealer(t *testing.T) {
	s, err := NewSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"token":"fbk_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"}`)
	ctx := []byte("idempotency\x00customer\x00POST /v1.0/accesskeys\x00key-1")
	sealed, err := s.Seal(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	if !Sealed(sealed) || strings.Contains(string(sealed), "fbk_") || strings.Contains(string(sealed), "0123456789") {
		t.Fatalf("sealed: %q", sealed)
	}
	again, _ := s.Seal(ctx, plain)
	if string(again) == string(sealed) {
		t.Errorf("two seals of one value are alike: the nonce is not random")
	}
	if got, err := s.Open(ctx, sealed); err != nil || string(got) != string(plain) {
		t.Fatalf("open: %q, %v", got, err)
	}
	other, _ := NewSealer([]byte("another secret of at least 32 bytes"))
	tampered := append([]byte{}, sealed...)
	tampered[len(tampered)-1] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"another secret": func() ([]byte, error) { return other.Open(ctx, sealed) },
		"another context": func() ([]byte, error) {
			return s.Open([]byte("idempotency\x00customer\x00POST /v1.0/accesskeys\x00key-2"), sealed)
		},
		"altered":  func() ([]byte, error) { return s.Open(ctx, tampered) },
		"in clear": func() ([]byte, error) { return s.Open(ctx, plain) },
		"cut":      func() ([]byte, error) { return s.Open(ctx, sealed[:10]) },
	} {
		if got, err := try(); !errors.Is(err, ErrUnsealable) || got != nil {
			t.Errorf("%s: got %q, %v; want ErrUnsealable", name, got, err)
		}
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Errorf("a short secret must be refused")
	}
	tokens, _ := NewTokens(secret, time.Hour)
	if _, err := tokens.Sealer().Open(ctx, sealed); err != nil {
		t.Errorf("the tokens' sealer is the secret's: %v", err)
	}
}
