// Package client is the Go client of sessiongw, the session gateway: log
// users in and out with a hardened cookie, validate the session of every
// request in one line, and, with a near cache, answer repeated validations
// inside your process without giving up the gateway's revocation
// guarantee. It needs only the standard library (the Echo middleware is in
// client/echomw).
//
// # Validating requests
//
// Wrap your handlers; the identity is in the request's context:
//
//	c, err := client.New("http://127.0.0.1:8080", client.WithAdminToken(adminToken))
//	…
//	mux.Handle("/account", c.Middleware(accountPage))
//
//	func accountPage(w http.ResponseWriter, r *http.Request) {
//		id, _ := client.IdentityFrom(r.Context())
//		fmt.Fprintf(w, "hello %s", id.Username)
//	}
//
// Middleware answers 401 (no or an invalid session), 403 (a valid session
// that is not allowed: an inactive user, a missing role, a sign-in too old
// for Require) or 503 (the gateway could not tell) itself, in the gateway's
// JSON error shape; for web pages, OnError lets you redirect to your login
// form instead. Validate does the same check for a token you hold.
//
// # Errors
//
// Match errors with errors.Is: ErrUnauthenticated, ErrForbidden and
// ErrUnavailable. ErrUnavailable (503, a timeout, a refused connection)
// means "cannot tell right now", never "logged out": do not clear a cookie
// or sign a user out on it. A refusal is an *Error with the gateway's
// status and code.
//
// # Logging in and out
//
// After your own check of who the user is (a password, OIDC), Login
// creates the session and sets the cookie exactly as the gateway's cookie
// settings say (HttpOnly, Secure, SameSite, Domain; a __Host- name must be
// the gateway's too: WithCookieName). Logout ends the session at the
// gateway, on every replica, and clears the cookie.
//
// # The near cache
//
// WithNearCache keeps validated sessions in the process for up to
// NearCache.TTL and drops them on the gateway's invalidations, which reach
// it over one stream to a replica and are acknowledged before the change
// that caused them returns. While the cache cannot hear the gateway within
// the invalidation window, it answers nothing itself. The gateway must set
// SESSIONGW_NEAR_CACHE_TOKEN, and a proxy between the app and the gateway
// must not buffer request bodies (nginx: proxy_request_buffering off and
// proxy_buffering off for /v1/invalidations).
//
// The rest of the API has one typed method per endpoint: the holder's own
// (Session, Sessions, RevokeSession, RevokeOtherSessions, Stats, Rotate:
// the token is the credential) and your backend's (users, sessions by id,
// API tokens: they need WithAdminToken).
//
// A complete web app with a login form, in the repository:
// examples/webapp.
package client
