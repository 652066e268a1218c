package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/oidc"
	"github.com/sessiongw/sessiongw/internal/session"
)

// LogoutVerifier checks a back-channel logout token (internal/oidc).
type LogoutVerifier interface {
	Verify(ctx context.Context, raw string) (session.IdPLogout, error)
}

// IdP is what the back-channel logout endpoint asks of the domain.
type IdP interface {
	BackchannelLogout(ctx context.Context, l session.IdPLogout) (int, error)
}

// Refusal reasons of back-channel logout beyond the token's own
// (oidc.Reason*).
const (
	reasonReplayed         = "replayed"
	reasonStoreUnavailable = "store_unavailable"
)

// BackchannelConfig configures POST /v1/oidc/backchannel-logout.
type BackchannelConfig struct {
	Verifier LogoutVerifier // nil: the endpoint answers 404
	// Observe counts each request by result ("ok" or a refusal reason).
	Observe func(result string)
}

// handleBackchannelLogout serves OpenID Connect Back-Channel Logout 1.0:
// a form-encoded logout_token; 200 once the sessions it names have ended
// everywhere (whether there were any is not said), 400 with the OAuth
// error shape for a token that does not verify, and 501 (the status the
// specification gives a failed logout) with Retry-After when the issuer's
// keys or the database could not be reached.
func handleBackchannelLogout(svc IdP, cfg BackchannelConfig, log *slog.Logger) echo.HandlerFunc {
	observe := cfg.Observe
	if observe == nil {
		observe = func(string) {}
	}
	return func(c echo.Context) error {
		if cfg.Verifier == nil {
			return errNotFound
		}
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		refuse := func(reason, desc string) error {
			observe(reason)
			return c.JSON(http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": desc})
		}
		failed := func(reason string) error {
			observe(reason)
			h.Set("Retry-After", "5")
			return c.JSON(http.StatusNotImplemented, map[string]string{"error": "temporarily_unavailable",
				"error_description": "the logout could not be completed now; send it again"})
		}
		req := c.Request()
		if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
			return refuse(oidc.ReasonMalformed, "the body must be application/x-www-form-urlencoded")
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, maxBodyBytes)
		if err := req.ParseForm(); err != nil {
			return refuse(oidc.ReasonMalformed, "the form does not parse")
		}
		raw := req.PostForm.Get("logout_token")
		if raw == "" || len(req.PostForm["logout_token"]) != 1 {
			return refuse(oidc.ReasonMalformed, "one logout_token is required")
		}
		l, err := cfg.Verifier.Verify(req.Context(), raw)
		if err != nil {
			var e *oidc.Error
			if errors.As(err, &e) && e.Reason == oidc.ReasonUnavailable {
				log.WarnContext(req.Context(), "back-channel logout: the issuer's keys could not be fetched", "err", err)
				return failed(e.Reason)
			}
			reason := oidc.ReasonMalformed
			if e != nil {
				reason = e.Reason
			}
			return refuse(reason, "the logout token is not valid: "+reason)
		}
		setActor(c, session.ActorIdP)
		if _, err := svc.BackchannelLogout(c.Request().Context(), l); err != nil {
			switch {
			case errors.Is(err, session.ErrLogoutReplayed):
				return refuse(reasonReplayed, "the logout token was already used")
			case errors.Is(err, session.ErrInvalid):
				return refuse(oidc.ReasonClaims, "the logout token names no session")
			}
			log.WarnContext(req.Context(), "back-channel logout failed", "err", err)
			return failed(reasonStoreUnavailable)
		}
		observe("ok")
		return c.NoContent(http.StatusOK)
	}
}
