package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/session"
)

// handleAuth is the per-request check for proxies and frontends. It never
// writes a body (nginx keeps its upstream connection alive only then) and
// only ever answers 200, 401, 403 or 503.
func handleAuth(svc *session.Service, cookieName string, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h["Cache-Control"] = []string{"no-store"}
		h["Content-Length"] = []string{"0"}
		t, err := tokenFrom(c.Request(), cookieName)
		var r session.Restored
		if err == nil {
			r, err = svc.Validate(c.Request().Context(), t, c.RealIP())
		}
		if err != nil {
			status := describe(err).Status
			switch status {
			case http.StatusUnauthorized, http.StatusForbidden:
			default:
				if status != http.StatusServiceUnavailable {
					log.Error("auth check failed", "err", err)
				}
				status = http.StatusServiceUnavailable
				h["Retry-After"] = []string{retryAfterSeconds}
			}
			c.Response().WriteHeader(status)
			return nil
		}
		h["X-Auth-User-Id"] = []string{strconv.FormatInt(r.User.ID, 10)}
		h["X-Auth-Username"] = []string{r.User.Username}
		h["X-Auth-Email"] = []string{r.User.Email}
		h["X-Auth-Roles"] = []string{strings.Join(r.User.Roles, ",")}
		h["X-Auth-Session-Id"] = []string{r.Session.ID}
		c.Response().WriteHeader(http.StatusOK)
		return nil
	}
}
