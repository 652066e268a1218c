package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Header values shared by every answer: one-element slices with no spare
// capacity, which net/http only reads (an Add elsewhere would copy them).
var (
	noStoreValue = []string{"no-store"}
	retryAfter   = []string{retryAfterSeconds}
	zeroLength   = []string{"0"}
)

// endEmpty sends status with an empty body. net/http declares
// Content-Length: 0 itself for an answer whose handler wrote nothing, but
// cannot for HEAD, so it is said there.
func endEmpty(c echo.Context, status int) {
	if c.Request().Method == http.MethodHead {
		c.Response().Header()["Content-Length"] = zeroLength
	}
	c.Response().WriteHeader(status)
}

// reasonHeader says why a check that found a valid session still denied
// it, for proxies and apps that act on it (a login page asking for a
// fresh sign-in).
const reasonHeader = "X-Auth-Reason"

// Reasons of reasonHeader.
const (
	reasonReauth      = "reauthentication_required"
	reasonMissingRole = "missing_role"
	reasonBadRequire  = "invalid_requirement"
)

// authDecision runs the per-request check and reports the status to send
// and the reason for a denial it can name: 200 (identity headers written),
// 401, 403 or 503 (Retry-After written). withQuery says whether the
// request's own query carries requirements (not on /v1/ext_authz, where it
// is the app's).
func authDecision(c echo.Context, svc Validator, cookieName string, identity *identityWriter, withQuery bool, log *slog.Logger) (int, string) {
	req := c.Request()
	h := c.Response().Header()
	h["Cache-Control"] = noStoreValue
	t, from, err := tokenAndSource(req, cookieName)
	var r session.Restored
	if err == nil {
		var reqs []session.Requirements
		if reqs, err = requirementsOf(req, withQuery); err == nil {
			r, err = svc.Authorize(req.Context(), t, requester(c), from, reqs...)
		}
	}
	if err != nil {
		status, reason := describe(err).Status, ""
		switch status {
		case http.StatusUnauthorized, http.StatusForbidden:
			switch err {
			case session.ErrReauthenticationRequired:
				reason = reasonReauth
			case session.ErrMissingRole:
				reason = reasonMissingRole
			case errBadRequirement:
				reason = reasonBadRequire
				log.WarnContext(req.Context(), "a check's requirements do not parse; denying (fix the proxy's configuration)", "request_id", requestID(c))
			}
			if reason != "" {
				h[reasonHeader] = []string{reason}
			}
		default:
			if status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests {
				log.ErrorContext(req.Context(), "auth check failed", "err", err, "request_id", requestID(c))
			}
			status = http.StatusServiceUnavailable
			h["Retry-After"] = retryAfter
		}
		return status, reason
	}
	if err := identity.write(h, r, req); err != nil {
		log.ErrorContext(req.Context(), "signing the identity token failed", "err", err, "request_id", requestID(c))
		h["Retry-After"] = retryAfter
		return http.StatusServiceUnavailable, ""
	}
	return http.StatusOK, ""
}

// handleAuth is the per-request check for proxies and frontends (also the
// Envoy ext_authz service under /v1/ext_authz/). It never writes a body
// (nginx keeps its upstream connection alive only then: net/http sends
// Content-Length: 0 for an answer whose handler wrote nothing) and only
// ever answers 200, 401, 403 or 503.
func handleAuth(svc Validator, cookieName string, identity *identityWriter, withQuery bool, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		status, _ := authDecision(c, svc, cookieName, identity, withQuery, log)
		endEmpty(c, status)
		return nil
	}
}
