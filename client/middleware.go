package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

type identityKey struct{}

// IdentityFrom returns the identity Middleware put in ctx.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// WithIdentity returns ctx carrying id (for tests of handlers behind
// Middleware, and for other frameworks' middleware).
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// MiddlewareOption adjusts Middleware.
type MiddlewareOption func(*middleware)

type middleware struct {
	req    Requirements
	onFail func(http.ResponseWriter, *http.Request, error)
}

// Require makes Middleware also check q (roles, freshness, methods): a
// session that does not meet it gets 403.
func Require(q Requirements) MiddlewareOption { return func(m *middleware) { m.req = q } }

// OnError makes Middleware call f instead of answering a refused or
// undetermined request itself: a web page can redirect to its login form
// on ErrUnauthenticated (and should still answer 503 on ErrUnavailable).
func OnError(f func(w http.ResponseWriter, r *http.Request, err error)) MiddlewareOption {
	return func(m *middleware) { m.onFail = f }
}

// Middleware validates the session of every request (the cookie, else an
// Authorization: Bearer token, else X-Session-Token) and calls next with
// the Identity in the request's context (IdentityFrom). Otherwise it
// answers itself, in the gateway's JSON error shape: 401 (no or an invalid
// session), 403 (valid, but not allowed) or 503 with Retry-After (the
// gateway could not tell: never treated as logged out).
func (c *Client) Middleware(next http.Handler, opts ...MiddlewareOption) http.Handler {
	m := middleware{onFail: func(w http.ResponseWriter, _ *http.Request, err error) { WriteError(w, err) }}
	for _, o := range opts {
		o(&m)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, src, ok := c.tokenFrom(r)
		if !ok {
			m.onFail(w, r, &Error{Status: http.StatusUnauthorized, Code: "missing_token", Message: "no session token"})
			return
		}
		id, err := c.validate(r.Context(), token, src, m.req)
		if err != nil {
			m.onFail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// TokenFrom returns the session token of r as the gateway reads it: the
// cookie, else Authorization: Bearer, else X-Session-Token.
func (c *Client) TokenFrom(r *http.Request) (string, bool) {
	t, _, ok := c.tokenFrom(r)
	return t, ok
}

func (c *Client) tokenFrom(r *http.Request) (string, source, bool) {
	if ck, err := r.Cookie(c.cookie); err == nil {
		// As the gateway: the cookie sent twice with different values (one
		// planted by a sibling subdomain) names no session.
		for _, other := range r.CookiesNamed(c.cookie) {
			if other.Value != ck.Value {
				return "", fromCookie, true
			}
		}
		return ck.Value, fromCookie, true
	}
	if v := r.Header.Get("Authorization"); len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:]), fromBearer, true
	}
	if v := r.Header.Get("X-Session-Token"); v != "" {
		return strings.TrimSpace(v), fromBearer, true
	}
	return "", fromCookie, false
}

// WriteError answers err as Middleware does: its *Error's status and code,
// else 503 for ErrUnavailable and 500 for anything else, with
// {"error": {"code", "message"}}.
func WriteError(w http.ResponseWriter, err error) {
	status, code, msg := http.StatusInternalServerError, "internal", "internal error"
	var e *Error
	switch {
	case errors.As(err, &e):
		status, code, msg = e.Status, e.Code, e.Message
		if e.Reason == "reauthentication_required" {
			status = http.StatusForbidden
		}
	case errors.Is(err, ErrUnavailable):
		status, code, msg = http.StatusServiceUnavailable, "unavailable", "the session gateway could not be reached"
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// LoginOptions are the details of a login.
type LoginOptions struct {
	RememberMe bool
	// AMR says how the user authenticated ("pwd", "otp", …), for checks
	// that ask for a method.
	AMR []string
	// IPAddress is the client's address (default: the request's peer;
	// behind a proxy, pass the address your proxy reports).
	IPAddress string
}

// Login starts a session for userID after your own check of who the user
// is (a password, OIDC), sets the session cookie on w exactly as the
// gateway's cookie settings say (HttpOnly, Secure, SameSite, Domain,
// __Host- names), and returns the new session's identity. It needs the
// admin token.
func (c *Client) Login(w http.ResponseWriter, r *http.Request, userID string, o LoginOptions) (Identity, error) {
	ip := o.IPAddress
	if ip == "" {
		ip, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	created, err := c.CreateSession(r.Context(), CreateSession{UserID: userID, RememberMe: o.RememberMe, IPAddress: ip, UserAgent: r.UserAgent(), AMR: o.AMR})
	if err != nil {
		return Identity{}, err
	}
	w.Header().Add("Set-Cookie", created.SetCookie)
	id, err := c.auth(r.Context(), created.Token, fromBearer, Requirements{})
	if err != nil {
		return Identity{}, err
	}
	id.AMR = created.Session.AMR
	return id, nil
}

// Logout ends the session of r (its cookie or bearer token) at the gateway,
// and when it came in the cookie, clears the cookie on w. A request without
// a session is not an error. If the gateway cannot be reached the session
// is not ended, the cookie is left alone, and the error matches
// ErrUnavailable.
func (c *Client) Logout(w http.ResponseWriter, r *http.Request) error {
	token, src, ok := c.tokenFrom(r)
	if !ok || !wellFormed(token) {
		if ok && src == fromCookie {
			clearCookie(w, c.cookie)
		}
		return nil
	}
	resp, err := c.do(r.Context(), http.MethodDelete, "/v1/session", nil, nil, func(req *http.Request) { c.credential(req, token, src) })
	if errors.Is(err, ErrUnauthenticated) { // already ended: still log the browser out
		if src == fromCookie {
			clearCookie(w, c.cookie)
		}
		return nil
	}
	if err != nil {
		return err
	}
	for _, sc := range resp.Header.Values("Set-Cookie") { // the gateway's clearing cookie
		w.Header().Add("Set-Cookie", sc)
	}
	if c.near != nil {
		c.near.drop(hashOf(token))
	}
	return nil
}

func clearCookie(w http.ResponseWriter, name string) {
	secure := strings.HasPrefix(name, "__Host-") || strings.HasPrefix(name, "__Secure-") // browsers ignore these otherwise
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0), HttpOnly: true, Secure: secure})
}
