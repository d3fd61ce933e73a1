// Package auth holds flowbin's credentials: login tokens (JWT, HS256), access keys (random, stored as SHA-256)
// and password hashes (bcrypt). It knows nothing of HTTP or SQL.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

// ErrInvalid is returned for a credential that is malformed, forged, expired or revoked.
var ErrInvalid = errors.New("invalid credentials")

// Principal is who a request acts for.
type Principal struct {
	CustomerID uuid.UUID
	// UserID and Username are set for login tokens; AccessKeyID and AccessKeyName for access keys.
	UserID        uuid.UUID
	Username      string
	AccessKeyID   uuid.UUID
	AccessKeyName string
	// Generation is, for login tokens, the user's token generation when the token was issued: the token is good
	// only while the user is still at it (the server checks against the database). KeyOwnerID is, for access
	// keys, the user who created the key (uuid.Nil for keys created before flowbin recorded it).
	Generation int
	KeyOwnerID uuid.UUID
}

const issuer = "flowbin"

// Tokens issues and verifies login tokens.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time

	// verified remembers tokens that passed verification (by their SHA-256, never the token itself) until they
	// expire: a client sends the same token on every request, and checking it again only costs. Verification is
	// a function of the token and the secret, so every instance would reach the same answer. (Revocation is not:
	// the server checks the remembered principal's Generation against the user's on every request.)
	mu       sync.RWMutex
	verified map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	principal Principal
	expires   time.Time
}

// maxVerified bounds the remembered tokens (about 100 bytes each).
const maxVerified = 10000

// NewTokens returns a token issuer with the given signing secret and lifetime.
func NewTokens(secret []byte, ttl time.Duration) (*Tokens, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("auth: the token signing secret must be at least 32 bytes, got %d", len(secret))
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("auth: the token lifetime must be positive, got %s", ttl)
	}
	return &Tokens{secret: secret, ttl: ttl, now: time.Now, verified: map[[sha256.Size]byte]verifiedToken{}}, nil
}

type claims struct {
	jwt.RegisteredClaims
	CustomerID string `json:"customer_id"`
	Username   string `json:"username"`
	// Generation is the user's token generation at issue; tokens issued before generations existed have none,
	// which reads as 0, the generation every user started at.
	Generation int `json:"gen,omitempty"`
}

// Issue returns a signed token for the user at the given token generation.
func (t *Tokens) Issue(userID, customerID uuid.UUID, username string, generation int) (string, error) {
	now := t.now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   userID.String(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
		CustomerID: customerID.String(),
		Username:   username,
		Generation: generation,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return s, nil
}

// Verify checks a token's signature (HS256 only), issuer and expiry, and returns who it was issued to. Whether the
// token was revoked since (its generation is not the user's any more) is for the caller to check: it is not a
// function of the token alone.
func (t *Tokens) Verify(token string) (Principal, error) {
	key := sha256.Sum256([]byte(token))
	t.mu.RLock()
	v, ok := t.verified[key]
	t.mu.RUnlock()
	if ok {
		if t.now().Before(v.expires) {
			return v.principal, nil
		}
		t.mu.Lock()
		delete(t.verified, key)
		t.mu.Unlock()
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalid, jwt.ErrTokenExpired)
	}
	p, expires, err := t.verify(token)
	if err != nil {
		return Principal{}, err
	}
	t.mu.Lock()
	if len(t.verified) >= maxVerified {
		for k := range t.verified { // drop one at random
			delete(t.verified, k)
			break
		}
	}
	t.verified[key] = verifiedToken{principal: p, expires: expires}
	t.mu.Unlock()
	return p, nil
}

func (t *Tokens) verify(token string) (Principal, time.Time, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	userID, err1 := uuid.Parse(c.Subject)
	customerID, err2 := uuid.Parse(c.CustomerID)
	if err1 != nil || err2 != nil {
		return Principal{}, time.Time{}, fmt.Errorf("%w: malformed claims", ErrInvalid)
	}
	if c.Generation < 0 {
		return Principal{}, time.Time{}, fmt.Errorf("%w: malformed claims", ErrInvalid)
	}
	return Principal{CustomerID: customerID, UserID: userID, Username: c.Username, Generation: c.Generation},
		c.ExpiresAt.Time, nil
}

// LooksLikeToken tells a login token (a JWT: three dot-separated parts) from an access key.
func LooksLikeToken(s string) bool { return strings.Count(s, ".") == 2 }

// AccessKeyPrefix starts every access key, so that keys are recognisable (and findable by secret scanners).
const AccessKeyPrefix = "fbk_"

// accessKeyPrefixLen is how much of a key is kept in clear as token_prefix: "fbk_" and four random characters.
const accessKeyPrefixLen = len(AccessKeyPrefix) + 4

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewAccessKey returns a fresh random access key (256 bits of entropy), its hash and its display prefix.
func NewAccessKey() (key, hash, prefix string, err error) {
	var b strings.Builder
	b.WriteString(AccessKeyPrefix)
	max := big.NewInt(int64(len(base62)))
	for range 43 { // 62^43 > 2^256
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", "", "", fmt.Errorf("auth: new access key: %w", err)
		}
		b.WriteByte(base62[n.Int64()])
	}
	key = b.String()
	return key, HashAccessKey(key), key[:accessKeyPrefixLen], nil
}

// HashAccessKey is the SHA-256 hex digest under which an access key is stored and looked up.
func HashAccessKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// NewSecret returns n random bytes, hex-encoded.
func NewSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: new secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// NewPassword returns a random password for a bootstrap user.
func NewPassword() (string, error) {
	var b strings.Builder
	max := big.NewInt(int64(len(base62)))
	for range 20 {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("auth: new password: %w", err)
		}
		b.WriteByte(base62[n.Int64()])
	}
	return b.String(), nil
}

// Passwords hashes and checks passwords with bcrypt.
type Passwords struct {
	cost  int
	dummy []byte // the hash compared against for unknown users, so that they take as long as wrong passwords
}

// NewPasswords returns a hasher with the given bcrypt cost (bcrypt.DefaultCost when 0).
func NewPasswords(cost int) (*Passwords, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("flowbin timing equaliser"), cost)
	if err != nil {
		return nil, fmt.Errorf("auth: passwords: %w", err)
	}
	return &Passwords{cost: cost, dummy: dummy}, nil
}

// MaxPasswordBytes is bcrypt's input limit.
const MaxPasswordBytes = 72

// MinPasswordLength is the fewest characters of a password that a person chooses (flowbin user add, passwd):
// 12, above NIST SP 800-63B's floor of 8, as OWASP advises for a single factor. Random passwords that flowbin
// makes are longer.
const MinPasswordLength = 12

// CheckNewPassword says why a password chosen now is refused, or nil.
func CheckNewPassword(password string) error {
	if n := utf8.RuneCountInString(password); n < MinPasswordLength {
		return fmt.Errorf("the password has %d characters; choose one of at least %d", n, MinPasswordLength)
	}
	if len(password) > MaxPasswordBytes {
		return fmt.Errorf("the password has %d bytes; bcrypt reads at most %d", len(password), MaxPasswordBytes)
	}
	return nil
}

// Hash returns the bcrypt hash of a password.
func (p *Passwords) Hash(password string) (string, error) {
	if password == "" {
		return "", errors.New("auth: the password must not be empty")
	}
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("auth: the password must be at most %d bytes", MaxPasswordBytes)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.cost)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return string(h), nil
}

// Check reports whether password matches hash. With hash "" (an unknown user) it compares against a dummy hash,
// so that unknown users and wrong passwords take about the same time.
func (p *Passwords) Check(hash, password string) bool {
	h := []byte(hash)
	if hash == "" {
		h = p.dummy
	}
	if len(password) > MaxPasswordBytes {
		password = password[:MaxPasswordBytes]
	}
	err := bcrypt.CompareHashAndPassword(h, []byte(password))
	return err == nil && hash != ""
}
