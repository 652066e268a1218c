package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/session"
)

// requireAdmin guards the admin API: 404 everywhere when no admin token is
// configured, 401 unless "Authorization: Bearer <token>" matches (compared in
// constant time, on hashes so the length does not leak either).
func requireAdmin(token string, svc Admin, log *slog.Logger) echo.MiddlewareFunc {
	want := sha256.Sum256([]byte(token))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if token == "" {
				return errNotFound
			}
			v := c.Request().Header.Get("Authorization")
			got := sha256.Sum256([]byte(strings.TrimSpace(v[min(7, len(v)):])))
			if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				recordAdminAuthFailure(c, svc, log)
				return errAdminAuth
			}
			noStore(c)
			setActor(c, session.ActorAdmin)
			return next(c)
		}
	}
}

type userRequest struct {
	Username    *string  `json:"username"`
	Email       string   `json:"email"`
	IsActive    *bool    `json:"is_active"`
	Roles       []string `json:"roles"`
	MaxSessions *int     `json:"max_sessions"` // null or absent: the default
}

func handlePutUser(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := userIDParam(c)
		if err != nil {
			return err
		}
		var req userRequest
		if err := decodeJSON(c, &req, false); err != nil {
			return err
		}
		if req.Username == nil {
			return session.Invalid("username", "is required")
		}
		u := session.User{ID: id, Username: *req.Username, Email: req.Email, IsActive: true, Roles: req.Roles, MaxSessions: req.MaxSessions}
		if req.IsActive != nil {
			u.IsActive = *req.IsActive
		}
		out, created, err := svc.UpsertUser(c.Request().Context(), u)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return c.JSON(status, out)
	}
}

func handleGetUser(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := userIDParam(c)
		if err != nil {
			return err
		}
		u, err := svc.GetUser(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, u)
	}
}

func handleDeleteUser(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := userIDParam(c)
		if err != nil {
			return err
		}
		if err := svc.DeleteUser(c.Request().Context(), id); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

type createSessionRequest struct {
	UserID          *userIDJSON `json:"user_id"`
	RememberMe      bool        `json:"remember_me"`
	IPAddress       string      `json:"ip_address"`
	UserAgent       string      `json:"user_agent"`
	AuthenticatedAt *time.Time  `json:"authenticated_at"`
	AMR             []string    `json:"amr"`
	// OIDC links the session to the identity provider's, for back-channel
	// logout.
	OIDC *session.OIDCRef `json:"oidc"`
}

type createSessionResponse struct {
	Token   string          `json:"token"`
	Session session.Session `json:"session"`
	// Evicted are the public ids of sessions revoked to make room under
	// the session limit (empty when none).
	Evicted []string `json:"evicted"`
	// SetCookie is a ready Set-Cookie header value for the token, with the
	// gateway's cookie settings, for an app that passes it to the browser.
	SetCookie string `json:"set_cookie"`
}

func handleCreateSession(svc Admin, cookies CookieConfig) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req createSessionRequest
		if err := decodeJSON(c, &req, false); err != nil {
			return err
		}
		if req.UserID == nil {
			return session.Invalid("user_id", "is required")
		}
		p := session.CreateParams{UserID: string(*req.UserID), RememberMe: req.RememberMe, IPAddress: req.IPAddress, UserAgent: req.UserAgent,
			AMR: req.AMR, OIDC: req.OIDC}
		if req.AuthenticatedAt != nil {
			p.AuthenticatedAt = *req.AuthenticatedAt
		}
		out, err := svc.CreateSession(c.Request().Context(), p)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, createSessionResponse{Token: out.Token.Reveal(), Session: out.Session, Evicted: out.Evicted,
			SetCookie: cookies.setCookieValue(out.Token, out.Session, time.Now())})
	}
}

type rotateResponse struct {
	Token   string          `json:"token"`
	Session session.Session `json:"session"`
}

// handleRotateByID gives a session a new token (after the app changed the
// user's privileges): POST /v1/admin/sessions/{id}/rotate.
func handleRotateByID(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := sessionIDParam(c)
		if err != nil {
			return err
		}
		t, ss, err := svc.RotateByID(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, rotateResponse{Token: t.Reveal(), Session: ss})
	}
}

type reauthenticatedRequest struct {
	AMR []string `json:"amr"`
}

// handleReauthenticated records that the app re-checked the user:
// POST /v1/admin/sessions/{id}/reauthenticated {"amr": [...]}.
func handleReauthenticated(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := sessionIDParam(c)
		if err != nil {
			return err
		}
		var req reauthenticatedRequest
		if err := decodeJSON(c, &req, true); err != nil {
			return err
		}
		ss, err := svc.Reauthenticated(c.Request().Context(), id, req.AMR)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"session": ss})
	}
}

type apiTokenRequest struct {
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
	Roles     []string   `json:"roles"`
}

type apiTokenResponse struct {
	Token    string           `json:"token"`
	APIToken session.APIToken `json:"api_token"`
}

func handleCreateAPIToken(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := userIDParam(c)
		if err != nil {
			return err
		}
		var req apiTokenRequest
		if err := decodeJSON(c, &req, false); err != nil {
			return err
		}
		p := session.APITokenParams{Name: req.Name, Roles: req.Roles}
		if req.ExpiresAt != nil {
			p.ExpiresAt = *req.ExpiresAt
		}
		t, tok, err := svc.CreateAPIToken(c.Request().Context(), id, p)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, apiTokenResponse{Token: t.Reveal(), APIToken: tok})
	}
}

func handleListAPITokens(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := userIDParam(c)
		if err != nil {
			return err
		}
		list, err := svc.ListAPITokens(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"api_tokens": list})
	}
}

func handleRevokeAPIToken(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := session.ParseSessionID(c.Param("id"))
		if err != nil {
			return err
		}
		if err := svc.RevokeAPIToken(c.Request().Context(), id); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

func handleListUserSessions(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := userIDParam(c)
		if err != nil {
			return err
		}
		list, err := svc.ListUserSessions(c.Request().Context(), id)
		if err != nil {
			return err
		}
		views := make([]sessionView, len(list))
		for i, s := range list {
			views[i] = sessionView{Session: s, deviceView: describeDevice(s.UserAgent)}
		}
		return c.JSON(http.StatusOK, map[string]any{"sessions": views})
	}
}

type revokeRequest struct {
	ExceptToken string `json:"except_token"`
}

func handleRevokeUserSessions(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := userIDParam(c)
		if err != nil {
			return err
		}
		var req revokeRequest
		if err := decodeJSON(c, &req, true); err != nil {
			return err
		}
		var except session.Token
		if req.ExceptToken != "" {
			if except, err = session.ParseToken(req.ExceptToken); err != nil {
				return session.Invalid("except_token", "not a well-formed session token")
			}
		}
		n, err := svc.RevokeUserSessions(c.Request().Context(), id, except)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]int{"revoked": n})
	}
}

func handleRevokeSession(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := sessionIDParam(c)
		if err != nil {
			return err
		}
		if err := svc.RevokeByID(c.Request().Context(), id); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

func handleCleanup(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		n, err := svc.Cleanup(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]int{"deleted": n})
	}
}

func handleUserStats(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := userIDParam(c)
		if err != nil {
			return err
		}
		st, err := svc.UserStats(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, st)
	}
}
