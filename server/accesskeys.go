package server

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

// ListAccesskeys answers one page of the caller's access keys.
func (s *Server) ListAccesskeys(ctx context.Context, req gen.ListAccesskeysRequestObject) (gen.ListAccesskeysResponseObject, error) {
	page, err := toPage(req.Params.PageSize, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	keys, err := s.store.ListAccessKeys(ctx, principalFrom(ctx).CustomerID, page)
	if err != nil {
		return nil, err
	}
	out := make([]gen.Accesskey, len(keys))
	for i := range keys {
		out[i] = toAPIAccesskey(&keys[i])
	}
	return gen.ListAccesskeys200JSONResponse{
		Result:        out,
		NextPageToken: nextPageToken(keys, func(k *store.AccessKey) time.Time { return k.TMCreate }),
	}, nil
}

// CreateAccesskey creates an access key and answers its raw key, this once.
func (s *Server) CreateAccesskey(ctx context.Context, req gen.CreateAccesskeyRequestObject) (gen.CreateAccesskeyResponseObject, error) {
	key, hash, prefix, err := auth.NewAccessKey()
	if err != nil {
		return nil, err
	}
	// The key is its creator's: disabling or removing that user stops it. A key made with a key is that key's
	// creator's.
	p := principalFrom(ctx)
	owner := p.UserID
	if owner == uuid.Nil {
		owner = p.KeyOwnerID
	}
	k, err := s.store.CreateAccessKey(ctx, store.NewAccessKey{
		UserID:      owner,
		CustomerID:  p.CustomerID,
		Name:        deref(req.Body.Name),
		Detail:      deref(req.Body.Detail),
		TokenHash:   hash,
		TokenPrefix: prefix,
		Lifetime:    time.Duration(req.Body.Expire) * time.Second,
	})
	if err != nil {
		return nil, err
	}
	a := toAPIAccesskey(k)
	return gen.CreateAccesskey200JSONResponse{
		Id: a.Id, CustomerId: a.CustomerId, Name: a.Name, Detail: a.Detail, Token: key, TokenPrefix: a.TokenPrefix,
		TmExpire: a.TmExpire, TmCreate: a.TmCreate, TmUpdate: a.TmUpdate, TmDelete: a.TmDelete,
	}, nil
}

// GetAccesskey answers one of the caller's access keys.
func (s *Server) GetAccesskey(ctx context.Context, req gen.GetAccesskeyRequestObject) (gen.GetAccesskeyResponseObject, error) {
	k, err := s.store.GetAccessKey(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetAccesskey200JSONResponse{AccesskeyJSONResponse: gen.AccesskeyJSONResponse(toAPIAccesskey(k))}, nil
}

// UpdateAccesskey renames an access key.
func (s *Server) UpdateAccesskey(ctx context.Context, req gen.UpdateAccesskeyRequestObject) (gen.UpdateAccesskeyResponseObject, error) {
	k, err := s.store.UpdateAccessKey(ctx, principalFrom(ctx).CustomerID, req.Id, deref(req.Body.Name), deref(req.Body.Detail))
	if err != nil {
		return nil, err
	}
	return gen.UpdateAccesskey200JSONResponse{AccesskeyJSONResponse: gen.AccesskeyJSONResponse(toAPIAccesskey(k))}, nil
}

// DeleteAccesskey deletes an access key; it stops working at once.
func (s *Server) DeleteAccesskey(ctx context.Context, req gen.DeleteAccesskeyRequestObject) (gen.DeleteAccesskeyResponseObject, error) {
	if err := s.store.DeleteAccessKey(ctx, principalFrom(ctx).CustomerID, req.Id); err != nil {
		return nil, err
	}
	return gen.DeleteAccesskey204Response{}, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
