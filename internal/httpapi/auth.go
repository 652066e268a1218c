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

// authDecision runs the per-request check and reports the status to send:
// 200 (identity headers written), 401, 403 or 503 (Retry-After written).
func authDecision(c echo.Context, svc Validator, cookieName string, identity *identityWriter, log *slog.Logger) int {
	h := c.Response().Header()
	h["Cache-Control"] = noStoreValue
	t, err := tokenFrom(c.Request(), cookieName)
	var r session.Restored
	if err == nil {
		r, err = svc.Validate(c.Request().Context(), t, requester(c))
	}
	if err != nil {
		status := describe(err).Status
		switch status {
		case http.StatusUnauthorized, http.StatusForbidden:
		default:
			if status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests {
				log.ErrorContext(c.Request().Context(), "auth check failed", "err", err, "request_id", requestID(c))
			}
			status = http.StatusServiceUnavailable
			h["Retry-After"] = retryAfter
		}
		return status
	}
	identity.write(h, r)
	return http.StatusOK
}

// handleAuth is the per-request check for proxies and frontends (also the
// Envoy ext_authz service under /v1/ext_authz/). It never writes a body
// (nginx keeps its upstream connection alive only then) and only ever
// answers 200, 401, 403 or 503.
func handleAuth(svc Validator, cookieName string, identity *identityWriter, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		status := authDecision(c, svc, cookieName, identity, log)
		c.Response().Header()["Content-Length"] = zeroLength
		c.Response().WriteHeader(status)
		return nil
	}
}
