package httpapi

import (
	"net/http"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

// CookieConfig is how the gateway writes the session cookie
// (SESSIONGW_COOKIE_*): always HttpOnly and Path=/.
type CookieConfig struct {
	Name     string
	Secure   bool
	SameSite http.SameSite
	Domain   string // empty: host-only
}

// cookie returns the session cookie carrying value. A remember-me session's
// cookie lasts until the session expires; any other is a browser-session
// cookie (gone when the browser closes), like the session it stands for.
func (cc CookieConfig) cookie(value string, s session.Session, now time.Time) *http.Cookie {
	c := &http.Cookie{Name: cc.Name, Value: value, Path: "/", Domain: cc.Domain, HttpOnly: true, Secure: cc.Secure, SameSite: cc.SameSite}
	if s.RememberMe {
		c.MaxAge = max(1, int(s.ExpiresAt.Sub(now).Seconds()))
	}
	return c
}

// setCookie sets the cookie for token t of session s on the answer.
func (cc CookieConfig) setCookie(w http.ResponseWriter, t session.Token, s session.Session, now time.Time) {
	w.Header().Add("Set-Cookie", cc.cookie(t.Reveal(), s, now).String())
}

// setCookieValue is the Set-Cookie header value for token t of session s,
// for an app that sets it itself (the create answer's "set_cookie").
func (cc CookieConfig) setCookieValue(t session.Token, s session.Session, now time.Time) string {
	return cc.cookie(t.Reveal(), s, now).String()
}

// clearCookie tells the browser to drop the cookie (same name, path and
// domain, so it replaces the one it has).
func (cc CookieConfig) clearCookie(w http.ResponseWriter) {
	c := &http.Cookie{Name: cc.Name, Value: "", Path: "/", Domain: cc.Domain, HttpOnly: true, Secure: cc.Secure, SameSite: cc.SameSite, MaxAge: -1}
	w.Header().Add("Set-Cookie", c.String())
}
