package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Errors of the HTTP layer itself.
var (
	errBodyTooLarge = errors.New("request body is too large")
	errBadJSON      = errors.New("request body is not valid JSON for this endpoint")
	errAdminAuth    = errors.New("admin token missing or wrong")
	errNotFound     = errors.New("not found")
	errCrossOrigin  = errors.New("cross-origin request refused: this endpoint changes state and is not reachable from other sites")
	// errBadRequirement: a check's requirements (query or
	// X-Sessiongw-Require) do not parse: the proxy is misconfigured, and the
	// check fails closed.
	errBadRequirement = errors.New("the check's requirements do not parse")
	// errAmbiguousCookie: the session cookie came more than once, with
	// different values (see tokenFrom).
	errAmbiguousCookie = errors.New("more than one session cookie with different values: clear this site's cookies and sign in again")
)

// errorCodes is the one table that maps errors to HTTP status and code.
var errorCodes = []struct {
	err    error
	status int
	code   string
}{
	{session.ErrNoToken, http.StatusUnauthorized, "missing_token"},
	{session.ErrMalformedToken, http.StatusUnauthorized, "invalid_token"},
	{errAmbiguousCookie, http.StatusUnauthorized, "invalid_token"},
	{session.ErrUnauthenticated, http.StatusUnauthorized, "invalid_session"},
	{session.ErrUserInactive, http.StatusForbidden, "user_inactive"},
	{session.ErrReauthenticationRequired, http.StatusUnauthorized, "reauthentication_required"},
	{session.ErrMissingRole, http.StatusForbidden, "missing_role"},
	{errBadRequirement, http.StatusForbidden, "invalid_requirement"},
	{session.ErrSessionLimit, http.StatusConflict, "session_limit"},
	{session.ErrTokenNotFound, http.StatusNotFound, "token_not_found"},
	{session.ErrUserNotFound, http.StatusNotFound, "user_not_found"},
	{session.ErrSessionNotFound, http.StatusNotFound, "session_not_found"},
	{session.ErrConflict, http.StatusConflict, "conflict"},
	{session.ErrInvalid, http.StatusBadRequest, "invalid_input"},
	{session.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{session.ErrRateLimited, http.StatusTooManyRequests, "rate_limited"},
	{session.ErrTooManyReports, http.StatusTooManyRequests, "rate_limited"},
	{errBodyTooLarge, http.StatusRequestEntityTooLarge, "body_too_large"},
	{errBadJSON, http.StatusBadRequest, "invalid_json"},
	{errAdminAuth, http.StatusUnauthorized, "unauthorized"},
	{errNotFound, http.StatusNotFound, "not_found"},
	{errCrossOrigin, http.StatusForbidden, "cross_origin"},
}

// retryAfterSeconds is sent with every 503.
const retryAfterSeconds = "1"

// apiError is what a caller sees.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// describe maps err to its status, code and a message safe to show.
func describe(err error) apiError {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		return apiError{Status: he.Code, Code: snake(http.StatusText(he.Code)), Message: msg}
	}
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			msg := e.err.Error()
			var pm interface{ PublicMessage() string }
			if errors.As(err, &pm) {
				msg = pm.PublicMessage()
			} else if e.err == errBadJSON && errors.Unwrap(err) != nil {
				msg = err.Error()
			}
			return apiError{Status: e.status, Code: e.code, Message: msg}
		}
	}
	return apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
}

func snake(s string) string {
	if s == "" {
		return "error"
	}
	return strings.ReplaceAll(strings.ToLower(s), " ", "_")
}

// errorHandler writes {"error": {...}} for every error a handler returns.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		ae := describe(err)
		if ae.Status >= 500 {
			log.ErrorContext(c.Request().Context(), "request failed", "route", c.Path(), "method", c.Request().Method, "status", ae.Status, "err", err, "request_id", requestID(c))
		}
		if ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusTooManyRequests {
			c.Response().Header().Set("Retry-After", retryAfterSeconds)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(ae.Status)
			return
		}
		_ = c.JSON(ae.Status, map[string]apiError{"error": ae})
	}
}
