package server

import (
	"context"
	"encoding/base64"
	"net/url"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/events"
	"github.com/flowbin/flowbin/flow"
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
	out := gen.Customer{Id: c.ID, Name: c.Name, WebhookUri: hook.URI, WebhookMethod: hook.Method,
		TmCreate: formatTime(c.TMCreate), TmUpdate: formatTimePtr(hook.TMUpdate)}
	out.EventVariables = &hook.EventVariables
	return out
}

// UpdateCustomer sets the caller's webhook. The first webhook a customer sets gets no secret by itself: events are
// signed once the customer has made one (RotateWebhookSecret), because a secret it never saw would help nobody.
func (s *Server) UpdateCustomer(ctx context.Context, req gen.UpdateCustomerRequestObject) (gen.UpdateCustomerResponseObject, error) {
	id := principalFrom(ctx).CustomerID
	var uri, method string
	if req.Body.WebhookUri != nil {
		uri = *req.Body.WebhookUri
	}
	if req.Body.WebhookMethod != nil {
		method = string(*req.Body.WebhookMethod)
	}
	if uri != "" {
		if u, err := url.Parse(uri); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(uri) > 2048 {
			e := badRequest(flow.ReasonInvalidField, "webhook_uri must be an absolute http(s) URL of at most 2048 bytes, or \"\"")
			ptr := "/webhook_uri"
			e.details = []gen.ErrorDetail{{Pointer: &ptr, Reason: flow.ReasonInvalidField, Message: e.message}}
			return nil, e
		}
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.SetCustomerWebhook(ctx, id, uri, method, ""); err != nil {
			return err
		}
		if on := req.Body.EventVariables; on != nil {
			return s.store.SetCustomerEventVariables(ctx, id, *on)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.activeflows.ForgetCustomer(id)
	c, err := s.customer(ctx, id)
	if err != nil {
		return nil, err
	}
	return gen.UpdateCustomer200JSONResponse(c), nil
}

// RotateWebhookSecret makes the caller's customer a new signing secret and answers it, this once.
func (s *Server) RotateWebhookSecret(ctx context.Context, _ gen.RotateWebhookSecretRequestObject) (gen.RotateWebhookSecretResponseObject, error) {
	id := principalFrom(ctx).CustomerID
	secret, err := events.NewSecret()
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealer.Seal(secretContext(id), []byte(secret))
	if err != nil {
		return nil, err
	}
	hook, err := s.store.GetCustomerWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	// The column is text: the sealed bytes go in base64.
	if err := s.store.SetCustomerWebhook(ctx, id, hook.URI, hook.Method, base64.StdEncoding.EncodeToString(sealed)); err != nil {
		return nil, err
	}
	s.activeflows.ForgetCustomer(id)
	return gen.RotateWebhookSecret200JSONResponse{WebhookSecret: secret}, nil
}
