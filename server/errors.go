package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/flowbin/flowbin/activeflow"
	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

// Error classes (the envelope's status) and the HTTP status each one answers with by default.
const (
	statusInvalidArgument    = "INVALID_ARGUMENT"
	statusUnauthenticated    = "UNAUTHENTICATED"
	statusNotFound           = "NOT_FOUND"
	statusUnimplemented      = "UNIMPLEMENTED"
	statusAlreadyExists      = "ALREADY_EXISTS"
	statusFailedPrecondition = "FAILED_PRECONDITION"
	statusResourceExhausted  = "RESOURCE_EXHAUSTED"
	statusInternal           = "INTERNAL"
	statusUnavailable        = "UNAVAILABLE"
)

// apiError is an error as the client sees it. Every error answer of every layer is built from one.
type apiError struct {
	code    int    // HTTP status
	status  string // error class
	reason  string // stable UPPER_SNAKE code
	message string
	details []gen.ErrorDetail
	header  http.Header // extra response headers, such as Retry-After
	cause   error       // logged for 5xx, never sent
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.reason, e.message, e.cause)
	}
	return e.reason + ": " + e.message
}

func (e *apiError) Unwrap() error { return e.cause }

func newError(code int, status, reason, format string, args ...any) *apiError {
	return &apiError{code: code, status: status, reason: reason, message: fmt.Sprintf(format, args...)}
}

func badRequest(reason, format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, statusInvalidArgument, reason, format, args...)
}

func badParameter(name, format string, args ...any) *apiError {
	e := badRequest(reasonInvalidParameter, "%s: %s", name, fmt.Sprintf(format, args...))
	e.details = []gen.ErrorDetail{{Parameter: &name, Reason: reasonInvalidParameter, Message: e.message}}
	return e
}

func unauthenticated(reason, format string, args ...any) *apiError {
	e := newError(http.StatusUnauthorized, statusUnauthenticated, reason, format, args...)
	e.header = http.Header{"Www-Authenticate": {`Bearer realm="flowbin"`}}
	return e
}

// Reasons used by this package. Domain packages define their own (flow.Reason…).
const (
	reasonAuthRequired       = "AUTHENTICATION_REQUIRED"
	reasonInvalidCredentials = "INVALID_CREDENTIALS"
	reasonInvalidID          = "INVALID_ID"
	reasonInvalidJSON        = "INVALID_JSON_BODY"
	reasonInvalidBody        = "INVALID_REQUEST_BODY"
	reasonInvalidParameter   = "INVALID_REQUEST_PARAMETER"
	reasonInvalidString      = "INVALID_STRING"
	reasonRouteNotFound      = "ROUTE_NOT_FOUND"
	reasonMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	reasonBodyTooLarge       = "BODY_TOO_LARGE"
	reasonHeadersTooLarge    = "HEADERS_TOO_LARGE"
	reasonUnsupportedMedia   = "UNSUPPORTED_MEDIA_TYPE"
	reasonRateLimited        = "RATE_LIMIT_EXCEEDED"
	reasonRevisionMismatch   = "REVISION_MISMATCH"
	reasonIfMatchRequired    = "IF_MATCH_REQUIRED"
	reasonAlreadyExists      = "ALREADY_EXISTS"
	reasonUnavailable        = "SERVICE_UNAVAILABLE"
	reasonInternal           = "INTERNAL"
	reasonWebhookNotSet      = "WEBHOOK_NOT_SET"
)

// webhookNotSet refuses to test a webhook that the customer has not set.
func webhookNotSet() *apiError {
	return newError(http.StatusConflict, statusFailedPrecondition, reasonWebhookNotSet,
		"the customer has no webhook_uri; set one with PUT /v1.0/customer")
}

// toAPIError maps any error to what the client sees. It is the only place where errors meet HTTP statuses.
func toAPIError(err error) *apiError {
	var (
		ae       *apiError
		invalid  *flow.InvalidError
		notFound *store.NotFoundError
		stale    *store.PreconditionError
		httpErr  *echo.HTTPError
		tooLarge *http.MaxBytesError
		limit    *flow.LimitError
		staleAF  *activeflow.StaleError
		endedAF  *activeflow.EndedError
		existsAF *activeflow.ExistsError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &staleAF):
		return staleReport(staleAF)
	case errors.As(err, &endedAF):
		return newError(http.StatusConflict, statusFailedPrecondition, reasonActiveflowEnded,
			"the activeflow has ended (%s)", endedAF.EndReason)
	case errors.As(err, &existsAF):
		return newError(http.StatusConflict, statusAlreadyExists, reasonAlreadyExists, "activeflow %s already exists", existsAF.ID)
	case errors.As(err, &stale):
		e := newError(http.StatusPreconditionFailed, statusFailedPrecondition, reasonRevisionMismatch,
			"the flow is at revision %d (%s): it changed since the ETag in If-Match", stale.Current, etag(stale.Current))
		param, current := "If-Match", stale.Current
		e.details = []gen.ErrorDetail{{Parameter: &param, Reason: reasonRevisionMismatch, Message: e.message,
			CurrentRevision: &current}}
		e.header = http.Header{"Etag": {etag(stale.Current)}}
		return e
	case errors.As(err, &invalid):
		return invalidFlow(invalid.Problems)
	case errors.As(err, &limit):
		e := badRequest(flow.ReasonVariableLimit, "%s", strings.TrimPrefix(limit.Error(), "flow: "))
		e.details = []gen.ErrorDetail{{Pointer: &limit.Pointer, Reason: flow.ReasonVariableLimit, Message: e.message}}
		return e
	case errors.As(err, &notFound):
		e := newError(http.StatusNotFound, statusNotFound, strings.ToUpper(notFound.Resource)+"_NOT_FOUND",
			"%s", notFound.Error())
		return e
	case errors.Is(err, store.ErrNumberTaken):
		return numberTaken()
	case errors.Is(err, store.ErrConflict):
		return newError(http.StatusConflict, statusAlreadyExists, reasonAlreadyExists, "the resource already exists")
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		e := newError(http.StatusServiceUnavailable, statusUnavailable, reasonUnavailable,
			"the service is temporarily unavailable; retry later")
		e.header = http.Header{"Retry-After": {"1"}}
		e.cause = err
		return e
	case errors.As(err, &tooLarge):
		return bodyTooLarge(tooLarge.Limit)
	case errors.As(err, &httpErr):
		return fromEchoError(httpErr)
	}
	e := newError(http.StatusInternalServerError, statusInternal, reasonInternal, "internal error")
	e.cause = err
	return e
}

// staleReport answers a report of an action or step that is not the current one, or a change that lost a race.
func staleReport(e *activeflow.StaleError) *apiError {
	if e.ActionID == uuid.Nil {
		return newError(http.StatusConflict, statusFailedPrecondition, reasonStaleAction,
			"the activeflow changed meanwhile; retry")
	}
	what := fmt.Sprintf("action %s", e.ActionID)
	if e.Step != 0 {
		what = fmt.Sprintf("step %d (action %s)", e.Step, e.ActionID)
	}
	if cur := e.Current; cur != nil {
		return newError(http.StatusConflict, statusFailedPrecondition, reasonStaleAction,
			"%s is not the current action of the activeflow, which is step %d (action %s): it has moved on", what, cur.Step, cur.ID)
	}
	return newError(http.StatusConflict, statusFailedPrecondition, reasonStaleAction,
		"%s is not the current action of the activeflow: another runner advanced it", what)
}

func bodyTooLarge(limit int64) *apiError {
	return newError(http.StatusRequestEntityTooLarge, statusInvalidArgument, reasonBodyTooLarge,
		"the request body is larger than %d bytes", limit)
}

func unsupportedMediaType() *apiError {
	return newError(http.StatusUnsupportedMediaType, statusInvalidArgument, reasonUnsupportedMedia,
		"the request body must be application/json")
}

// fromEchoError maps the errors that Echo's router and binder produce.
func fromEchoError(he *echo.HTTPError) *apiError {
	switch he.Code {
	case http.StatusNotFound:
		return newError(http.StatusNotFound, statusNotFound, reasonRouteNotFound, "no such route")
	case http.StatusMethodNotAllowed:
		return newError(http.StatusMethodNotAllowed, statusUnimplemented, reasonMethodNotAllowed,
			"this route does not support the method; see the Allow header")
	case http.StatusRequestEntityTooLarge:
		return newError(http.StatusRequestEntityTooLarge, statusInvalidArgument, reasonBodyTooLarge,
			"the request body is too large")
	case http.StatusUnsupportedMediaType:
		return unsupportedMediaType()
	case http.StatusBadRequest:
		// The binder: a body that is not JSON, or a parameter that does not parse.
		msg := fmt.Sprint(he.Message)
		if strings.HasPrefix(msg, "Invalid format for parameter") {
			return badRequest(reasonInvalidParameter, "%s", msg)
		}
		return badRequest(reasonInvalidJSON, "the request body is not valid JSON")
	}
	if he.Code >= 500 {
		e := newError(http.StatusInternalServerError, statusInternal, reasonInternal, "internal error")
		e.cause = he
		return e
	}
	return newError(he.Code, statusInvalidArgument, "HTTP_"+strconv.Itoa(he.Code), "%s", http.StatusText(he.Code))
}

// invalidFlow is the answer to a flow definition with errors: every problem in details, in document order.
func invalidFlow(problems []flow.Problem) *apiError {
	details := toAPIProblems(problems)
	e := badRequest(problems[0].Reason, "%s", problems[0].Message)
	if len(problems) > 1 {
		e.message = fmt.Sprintf("the flow has %d problems; the first: %s", len(problems), problems[0].Message)
	}
	e.details = details
	return e
}

// handleError is Echo's error handler: it writes the envelope of any error, and logs the cause of 5xx answers.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae := toAPIError(err)
	s.drainBody(c)
	requestID := requestIDFrom(c.Request().Context())
	if ae.code >= 500 {
		s.log.LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestID), slog.String("route", c.Path()), slog.Any("err", err))
	}
	for k, vs := range ae.header {
		for _, v := range vs {
			c.Response().Header().Set(k, v)
		}
	}
	body := gen.Error{Error: gen.ErrorBody{
		Status:    gen.ErrorBodyStatus(ae.status),
		Reason:    ae.reason,
		Message:   ae.message,
		RequestId: requestID,
	}}
	if len(ae.details) > 0 {
		body.Error.Details = &ae.details
	}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(ae.code)
	} else {
		err = c.JSON(ae.code, body)
	}
	if err != nil {
		s.log.LogAttrs(c.Request().Context(), slog.LevelWarn, "write error response",
			slog.String("request_id", requestID), slog.Any("err", err))
	}
}

// Early answers (413, 401, 404… to a request whose body is not read) are preceded by reading what is left of the
// body, at most drainBytes and for at most drainTime, and dropping it. Many clients (Python's urllib and requests
// among them) send their whole body before they read a byte of the answer: a server that answers and closes with
// the body unread resets the connection under them, and they never see the answer. Mature servers drain for this
// reason (nginx's lingering close). Beyond the bounds the connection is closed as before.
const (
	drainBytes = 8 << 20
	drainTime  = 5 * time.Second
)

func (s *Server) drainBody(c echo.Context) {
	req := c.Request()
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength > drainBytes ||
		strings.EqualFold(req.Header.Get("Expect"), "100-continue") { // that client waits for the answer first
		return
	}
	rc := http.NewResponseController(c.Response().Writer)
	if err := rc.SetReadDeadline(time.Now().Add(drainTime)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return
	}
	_, _ = io.CopyN(io.Discard, req.Body, drainBytes)
}
