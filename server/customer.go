package server

import (
	"context"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

// GetMe answers the caller in the shape of VoIPbin's agent, with its customer: the user of a login token, or the
// access key (access keys belong to a customer, not to a user).
func (s *Server) GetMe(ctx context.Context, _ gen.GetMeRequestObject) (gen.GetMeResponseObject, error) {
	p := principalFrom(ctx)
	c, err := s.customer(ctx, p.CustomerID)
	if err != nil {
		return nil, err
	}
	me := gen.Me{
		CustomerId: p.CustomerID,
		RingMethod: gen.Ringall,
		Status:     gen.MeStatusEmpty,
		Permission: gen.N32,
		TagIds:     []string{},
		Addresses:  []map[string]any{},
		Customer:   c,
	}
	switch {
	case p.AccessKeyID != uuid.Nil:
		k, err := s.store.GetAccessKey(ctx, p.CustomerID, p.AccessKeyID)
		if err != nil {
			return nil, err
		}
		me.Id, me.Name, me.Detail = k.ID, k.Name, k.Detail
		me.TmCreate, me.TmUpdate, me.TmDelete = formatTime(k.TMCreate), formatTimePtr(k.TMUpdate), formatTimePtr(k.TMDelete)
	default:
		u, err := s.store.GetUser(ctx, p.CustomerID, p.UserID)
		if err != nil {
			return nil, err
		}
		me.Id, me.Username, me.Name = u.ID, u.Username, u.Username
		me.TmCreate, me.TmUpdate = formatTime(u.TMCreate), formatTimePtr(u.TMUpdate)
	}
	return gen.GetMe200JSONResponse(me), nil
}

// GetCustomer answers the caller's customer in VoIPbin's shape.
func (s *Server) GetCustomer(ctx context.Context, _ gen.GetCustomerRequestObject) (gen.GetCustomerResponseObject, error) {
	c, err := s.customer(ctx, principalFrom(ctx).CustomerID)
	if err != nil {
		return nil, err
	}
	return gen.GetCustomer200JSONResponse(c), nil
}

// customer reads a customer and its webhook settings, in VoIPbin's shape.
func (s *Server) customer(ctx context.Context, id uuid.UUID) (gen.Customer, error) {
	c, err := s.store.GetCustomer(ctx, id)
	if err != nil {
		return gen.Customer{}, err
	}
	hook, err := s.store.GetCustomerWebhook(ctx, id)
	if err != nil {
		return gen.Customer{}, err
	}
	return toAPICustomer(c, hook), nil
}

// toAPICustomer is a customer in VoIPbin's shape. flowbin keeps no contact or billing details: those fields are "".
func toAPICustomer(c *store.Customer, hook *store.CustomerWebhook) gen.Customer {
	return gen.Customer{Id: c.ID, Name: c.Name, WebhookUri: hook.URI, WebhookMethod: hook.Method,
		TmCreate: formatTime(c.TMCreate), TmUpdate: formatTimePtr(hook.TMUpdate)}
}
