package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/store"
)

const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
	reasonKeyInUse       = "IDEMPOTENCY_KEY_IN_USE"
	reasonKeyReused      = "IDEMPOTENCY_KEY_REUSED"
	// idempotencyPoll is how often a request waits on another with its key.
	idempotencyPoll = 25 * time.Millisecond
)

// errNotStored rolls back an idempotent request whose answer must not be replayed.
var errNotStored = errors.New("answer not stored")

// idempotency makes operations that accept an Idempotency-Key safe to retry. The first request with a key claims
// it; its writes and its answer commit in one transaction, so a retry after a crash cannot repeat a write; later
// requests with the key and the same body get the stored answer. State lives in the database: it holds across
// instances.
func (s *Server) idempotency(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		op := s.operation(c)
		key := c.Request().Header.Get(headerIdempotencyKey)
		if op == nil || !op.idempotent || key == "" {
			return next(c)
		}
		req := c.Request()
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return badRequest(reasonInvalidBody, "could not read the request body")
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(append([]byte(req.Method+" "+req.URL.Path+"\n"), body...))
		hash := hex.EncodeToString(sum[:])
		k := store.IdempotencyKey{CustomerID: principalFrom(req.Context()).CustomerID, Operation: op.method + " " + op.path, Key: key}

		waitUntil := time.Now().Add(s.cfg.IdempotencyWait)
		for {
			rec, claimed, err := s.store.ClaimIdempotencyKey(req.Context(), k, hash, s.cfg.IdempotencyTTL, 2*s.cfg.RequestTimeout)
			switch {
			case err != nil:
				return err
			case claimed:
				return s.runIdempotent(c, next, k)
			case rec.RequestHash != hash:
				return newError(http.StatusUnprocessableEntity, statusInvalidArgument, reasonKeyReused,
					"this Idempotency-Key was used with another request body")
			case rec.State == store.IdempotencyDone:
				return s.replay(c, k, rec)
			case time.Now().After(waitUntil):
				e := newError(http.StatusConflict, statusFailedPrecondition, reasonKeyInUse,
					"a request with this Idempotency-Key is still running; retry later")
				e.header = http.Header{"Retry-After": {"1"}}
				return e
			}
			select {
			case <-req.Context().Done():
				return req.Context().Err()
			case <-time.After(idempotencyPoll):
			}
		}
	}
}

// runIdempotent runs the request that claimed the key, in one transaction with the storing of its answer. Answers
// that a retry may change (5xx, 409, 429) are not stored: the claim is released and the request's writes, if any,
// roll back.
func (s *Server) runIdempotent(c echo.Context, next echo.HandlerFunc, k store.IdempotencyKey) error {
	orig := c.Response()
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	if w := orig.Header().Values(headerWarning); len(w) > 0 {
		rec.header[headerWarning] = w // warnings found before this point (unknown fields): part of the answer
	}
	c.SetResponse(echo.NewResponse(rec, c.Echo()))
	req := c.Request()
	err := s.store.InTx(req.Context(), func(ctx context.Context) error {
		c.SetRequest(req.WithContext(ctx))
		if err := next(c); err != nil {
			c.Error(err) // the error answer, into the recorder
		}
		if rec.status >= 500 || rec.status == http.StatusConflict || rec.status == http.StatusTooManyRequests {
			return errNotStored
		}
		header, err := json.Marshal(rec.header)
		if err != nil {
			return err
		}
		// Sealed: the answer to POST /v1.0/accesskeys holds a raw key, and no answer is kept in clear.
		body, err := s.sealer.Seal(sealContext(k), rec.body.Bytes())
		if err != nil {
			return err
		}
		return s.store.CompleteIdempotencyKey(ctx, k, rec.status, string(header), body)
	})
	c.SetRequest(req)
	c.SetResponse(orig)
	if err != nil {
		if rerr := s.store.ReleaseIdempotencyKey(context.WithoutCancel(req.Context()), k); rerr != nil {
			s.log.Warn("release idempotency key", "request_id", requestIDFrom(req.Context()), "err", rerr)
		}
		if !errors.Is(err, errNotStored) {
			return err // the answer was not stored, nor were the writes: it must not be sent
		}
	}
	return rec.writeTo(orig)
}

// sealContext names a stored answer for auth.Sealer: a sealed answer opens only for its own customer, operation
// and Idempotency-Key.
func sealContext(k store.IdempotencyKey) []byte {
	return []byte("flowbin idempotent answer\x00" + k.CustomerID.String() + "\x00" + k.Operation + "\x00" + k.Key)
}

// replay answers with a stored answer. Answers stored before sealing existed (never those of access-key
// creation, which migration 00006 deleted) are replayed as they are.
func (s *Server) replay(c echo.Context, k store.IdempotencyKey, rec *store.IdempotencyRecord) error {
	var header http.Header
	if err := json.Unmarshal([]byte(rec.ResponseHeader), &header); err != nil {
		return err
	}
	body := rec.ResponseBody
	if auth.Sealed(body) {
		var err error
		if body, err = s.sealer.Open(sealContext(k), body); err != nil {
			return fmt.Errorf("server: replay the answer of idempotency key: %w", err)
		}
	}
	res := c.Response()
	for name, values := range header {
		res.Header()[name] = values
	}
	res.Header().Set(headerReplayed, "true")
	res.WriteHeader(rec.ResponseStatus)
	_, err := res.Write(body)
	return err
}

// recorder holds an answer until it may be sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

func (r *recorder) writeTo(res *echo.Response) error {
	for name, values := range r.header {
		res.Header()[name] = values
	}
	res.Header().Set("Content-Length", strconv.Itoa(r.body.Len()))
	res.WriteHeader(r.status)
	_, err := res.Write(r.body.Bytes())
	return err
}
