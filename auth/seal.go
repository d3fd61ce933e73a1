package auth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer encrypts what flowbin must keep for a while but must not keep in clear, such as the stored answers of
// requests with an Idempotency-Key (the answer to POST /v1.0/accesskeys holds a raw key). Each sealed value has
// a key of its own, derived (HKDF-SHA256) from the server secret and the value's context (for an answer: the
// customer, the operation and the Idempotency-Key), and is encrypted and authenticated with AES-256-GCM under it,
// the context bound in as additional data. Without the server secret, a copy of the database opens nothing; a
// value moved to another row does not open either.
type Sealer struct {
	root []byte
}

// sealedMagic starts every sealed value: it tells sealed values from those stored before sealing existed.
var sealedMagic = []byte("fbs1")

// ErrUnsealable is a sealed value that does not open: another secret, another context, or altered bytes.
var ErrUnsealable = errors.New("auth: sealed value does not open")

// NewSealer derives a sealer from the server secret (at least 32 bytes).
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("auth: the sealing secret must be at least 32 bytes, got %d", len(secret))
	}
	root, err := hkdf.Key(sha256.New, secret, []byte("flowbin"), "flowbin sealing root v1", 32)
	if err != nil {
		return nil, fmt.Errorf("auth: derive sealing key: %w", err)
	}
	return &Sealer{root: root}, nil
}

// Sealer returns the sealer of the token signing secret (the server secret), under a key of its own.
func (t *Tokens) Sealer() *Sealer {
	s, _ := NewSealer(t.secret) // NewTokens checked the length
	return s
}

func (s *Sealer) aead(context []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, s.root, nil, string(context), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext for context.
func (s *Sealer) Seal(context, plaintext []byte) ([]byte, error) {
	aead, err := s.aead(context)
	if err != nil {
		return nil, fmt.Errorf("auth: seal: %w", err)
	}
	out := make([]byte, len(sealedMagic), len(sealedMagic)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	copy(out, sealedMagic)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("auth: seal: %w", err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, context), nil
}

// Sealed reports whether b is a sealed value (as opposed to one stored in clear before sealing existed).
func Sealed(b []byte) bool { return bytes.HasPrefix(b, sealedMagic) }

// Open decrypts a value sealed for context.
func (s *Sealer) Open(context, sealed []byte) ([]byte, error) {
	if !Sealed(sealed) {
		return nil, ErrUnsealable
	}
	aead, err := s.aead(context)
	if err != nil {
		return nil, fmt.Errorf("auth: open: %w", err)
	}
	b := sealed[len(sealedMagic):]
	if len(b) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrUnsealable
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], context)
	if err != nil {
		return nil, ErrUnsealable
	}
	return plain, nil
}
