package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"

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
	Username *string  `json:"username"`
	Email    string   `json:"email"`
	IsActive *bool    `json:"is_active"`
	Roles    []string `json:"roles"`
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
		u := session.User{ID: id, Username: *req.Username, Email: req.Email, IsActive: true, Roles: req.Roles}
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
	UserID     *userIDJSON `json:"user_id"`
	RememberMe bool        `json:"remember_me"`
	IPAddress  string      `json:"ip_address"`
	UserAgent  string      `json:"user_agent"`
}

type createSessionResponse struct {
	Token   string          `json:"token"`
	Session session.Session `json:"session"`
}

func handleCreateSession(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req createSessionRequest
		if err := decodeJSON(c, &req, false); err != nil {
			return err
		}
		if req.UserID == nil {
			return session.Invalid("user_id", "is required")
		}
		t, ss, err := svc.CreateSession(c.Request().Context(), session.CreateParams{
			UserID: string(*req.UserID), RememberMe: req.RememberMe, IPAddress: req.IPAddress, UserAgent: req.UserAgent,
		})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, createSessionResponse{Token: t.Reveal(), Session: ss})
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
