package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/device"
	"github.com/sessiongw/sessiongw/internal/session"
)

type restoreResponse struct {
	Session session.Session `json:"session"`
	User    session.User    `json:"user"`
}

func handleRestore(svc Holder, cookieName string) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := tokenFrom(c.Request(), cookieName)
		if err != nil {
			return err
		}
		r, err := svc.Validate(c.Request().Context(), t, requester(c))
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusOK, restoreResponse{Session: r.Session, User: r.User})
	}
}

type activityRequest struct {
	IPAddress *string `json:"ip_address"`
	UserAgent *string `json:"user_agent"`
}

func handleActivity(svc Holder, cookieName string) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := tokenFrom(c.Request(), cookieName)
		if err != nil {
			return err
		}
		var req activityRequest
		if err := decodeJSON(c, &req, true); err != nil {
			return err
		}
		ip, ua := c.RealIP(), session.TruncateUserAgent(c.Request().UserAgent())
		if req.IPAddress != nil {
			ip = *req.IPAddress
		}
		if req.UserAgent != nil {
			ua = *req.UserAgent
		}
		if err := svc.RecordActivity(c.Request().Context(), t, requester(c), ip, ua); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// handleLogout clears the session; when its token came in the cookie, the
// answer also clears the cookie.
func handleLogout(svc Holder, cookies CookieConfig) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, from, err := tokenAndSource(c.Request(), cookies.Name)
		if err != nil {
			return err
		}
		if err := svc.Logout(c.Request().Context(), t, requester(c)); err != nil {
			return err
		}
		if from == session.FromCookie {
			cookies.clearCookie(c.Response())
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// handleRotate gives the holder's session a new token: POST
// /v1/session/rotate → 200 {"token", "session"}; when the old token came in
// the cookie, the answer sets the new one.
func handleRotate(svc Holder, cookies CookieConfig) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, from, err := tokenAndSource(c.Request(), cookies.Name)
		if err != nil {
			return err
		}
		next, ss, err := svc.Rotate(c.Request().Context(), t, requester(c))
		if err != nil {
			return err
		}
		if from == session.FromCookie {
			cookies.setCookie(c.Response(), next, ss, time.Now())
		}
		noStore(c)
		return c.JSON(http.StatusOK, rotateResponse{Token: next.Reveal(), Session: ss})
	}
}

func handleListOwn(svc Holder, cookieName string) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := tokenFrom(c.Request(), cookieName)
		if err != nil {
			return err
		}
		list, err := svc.ListOwn(c.Request().Context(), t, requester(c))
		if err != nil {
			return err
		}
		views := make([]ownSessionView, len(list))
		for i, s := range list {
			views[i] = ownSessionView{CurrentSession: s, deviceView: describeDevice(s.UserAgent)}
		}
		noStore(c)
		return c.JSON(http.StatusOK, map[string]any{"sessions": views})
	}
}

// deviceView adds the device name parsed from a session's user agent.
type deviceView struct {
	Device     string `json:"device"`
	DeviceType string `json:"device_type"`
}

func describeDevice(userAgent string) deviceView {
	d := device.Describe(userAgent)
	return deviceView{Device: d.Name, DeviceType: d.Type}
}

type ownSessionView struct {
	session.CurrentSession
	deviceView
}

type sessionView struct {
	session.Session
	deviceView
}

func handleRevokeOwn(svc Holder, cookieName string) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := tokenFrom(c.Request(), cookieName)
		if err != nil {
			return err
		}
		id, err := sessionIDParam(c)
		if err != nil {
			return err
		}
		if err := svc.RevokeOwn(c.Request().Context(), t, requester(c), id); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

func handleRevokeOthers(svc Holder, cookieName string) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := tokenFrom(c.Request(), cookieName)
		if err != nil {
			return err
		}
		n, err := svc.RevokeOthers(c.Request().Context(), t, requester(c))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]int{"revoked": n})
	}
}

// requester is the client making the request: its address (the rate
// limit's key; see SESSIONGW_TRUSTED_PROXIES) and user agent.
func requester(c echo.Context) session.Client {
	return session.Client{IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

func noStore(c echo.Context) { c.Response().Header().Set("Cache-Control", "no-store") }

func handleOwnStats(svc Holder, cookieName string) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := tokenFrom(c.Request(), cookieName)
		if err != nil {
			return err
		}
		st, err := svc.OwnStats(c.Request().Context(), t, requester(c))
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusOK, st)
	}
}

// handleAcknowledgeNewDevice clears the new-device flag of the caller's
// session: DELETE /v1/session/new_device → 204.
func handleAcknowledgeNewDevice(svc Holder, cookieName string) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := tokenFrom(c.Request(), cookieName)
		if err != nil {
			return err
		}
		if err := svc.AcknowledgeNewDevice(c.Request().Context(), t, requester(c)); err != nil {
			return err
		}
		noStore(c)
		return c.NoContent(http.StatusNoContent)
	}
}
