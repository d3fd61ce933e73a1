package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

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
		Status:     gen.Offline,
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
		if k.UserID != nil { // the user the key acts for
			u, err := s.store.GetUser(ctx, p.CustomerID, *k.UserID)
			if err != nil {
				return nil, err
			}
			me.Username = u.Username
		}
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

// toAPICustomer is a customer in VoIPbin's shape, with its profile. flowbin has no billing: billing_account_id is
// the nil UUID.
func toAPICustomer(c *store.Customer, hook *store.CustomerWebhook) gen.Customer {
	return gen.Customer{Id: c.ID, Name: c.DisplayedName(), Detail: c.Detail, Email: c.Email, PhoneNumber: c.PhoneNumber,
		Address: c.Address, WebhookUri: hook.URI, WebhookMethod: hook.Method,
		TmCreate: formatTime(c.TMCreate), TmUpdate: formatTimePtr(hook.TMUpdate)}
}

// UpdateCustomer sets the caller's profile and webhook, in one transaction. The first webhook a customer sets gets
// no secret by itself: events are signed once the customer has made one (RotateWebhookSecret), because a secret it
// never saw would help nobody.
func (s *Server) UpdateCustomer(ctx context.Context, req gen.UpdateCustomerRequestObject) (gen.UpdateCustomerResponseObject, error) {
	id := principalFrom(ctx).CustomerID
	profile, problems := profileUpdate(req.Body)
	var uri, method string
	if req.Body.WebhookUri != nil {
		uri = *req.Body.WebhookUri
	}
	if req.Body.WebhookMethod != nil {
		method = string(*req.Body.WebhookMethod)
	}
	if uri != "" {
		if u, err := url.Parse(uri); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(uri) > 2048 {
			ptr := "/webhook_uri"
			problems = append(problems, gen.ErrorDetail{Pointer: &ptr, Reason: flow.ReasonInvalidField,
				Message: "webhook_uri must be an absolute http(s) URL of at most 2048 bytes, or \"\""})
		}
	}
	if err := invalidFields(problems); err != nil {
		return nil, err
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.UpdateCustomerProfile(ctx, id, profile); err != nil {
			return err
		}
		return s.store.SetCustomerWebhook(ctx, id, uri, method, "")
	})
	if err != nil {
		return nil, err
	}
	s.hooks.forget(id)
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
	s.hooks.forget(id)
	return gen.RotateWebhookSecret200JSONResponse{WebhookSecret: secret}, nil
}

// profileUpdate checks the profile fields of a customer update and says which to write (those sent), with every
// problem found.
func profileUpdate(b *gen.CustomerUpdate) (store.ProfileUpdate, []gen.ErrorDetail) {
	u := store.ProfileUpdate{Name: b.Name, Detail: b.Detail, Email: b.Email, PhoneNumber: b.PhoneNumber, Address: b.Address}
	var problems []gen.ErrorDetail
	check := func(field string, v *string, max int, multiline bool, valid func(string) string) {
		if v == nil {
			return
		}
		msg := ""
		switch { // JSON decoding has already made the text valid UTF-8
		case utf8.RuneCountInString(*v) > max:
			msg = fmt.Sprintf("is %d characters long; at most %d are allowed", utf8.RuneCountInString(*v), max)
		case hasControl(*v, multiline):
			msg = "holds a control character"
		case valid != nil && *v != "":
			msg = valid(*v)
		}
		if msg != "" {
			ptr := "/" + field
			problems = append(problems, gen.ErrorDetail{Pointer: &ptr, Reason: flow.ReasonInvalidField, Message: field + " " + msg})
		}
	}
	check("name", b.Name, flow.MaxNameLength, false, nil)
	check("detail", b.Detail, flow.MaxDetailLength, true, nil)
	check("email", b.Email, 254, false, func(v string) string {
		if a, err := mail.ParseAddress(v); err != nil || a.Name != "" || a.Address != v {
			return fmt.Sprintf("%q is not an email address such as ops@example.com", v)
		}
		return ""
	})
	check("phone_number", b.PhoneNumber, 32, false, func(v string) string {
		if !phoneNumber.MatchString(v) {
			return fmt.Sprintf("%q is not a phone number: digits, an optional leading +, and spaces, -, ., ( or ) between them", v)
		}
		return ""
	})
	check("address", b.Address, 1024, true, nil)
	return u, problems
}

// invalidFields is the 400 INVALID_FIELD answer to the problems of a body, every one in its details; nil when there
// are none.
func invalidFields(problems []gen.ErrorDetail) error {
	if len(problems) == 0 {
		return nil
	}
	e := badRequest(flow.ReasonInvalidField, "%s", problems[0].Message)
	if len(problems) > 1 {
		e.message = fmt.Sprintf("%s (and %d more problems)", e.message, len(problems)-1)
	}
	e.details = problems
	return e
}

// phoneNumber is a contact number as people write it: +1 (555) 010-0100, 0049 30 1234567.
var phoneNumber = regexp.MustCompile(`^\+?[(]?[0-9][0-9 ().-]*$`)

// hasControl says whether s holds a control character; multiline text may hold line breaks and tabs.
func hasControl(s string, multiline bool) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			return false
		}
		return unicode.IsControl(r)
	}) >= 0
}
