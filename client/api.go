package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// The gateway's JSON, as api/openapi.yaml describes it (a test holds these
// types to the document).

// Session is one login of one user.
type Session struct {
	ID              string    `json:"id"`
	UserID          string    `json:"user_id"`
	CreatedAt       time.Time `json:"created_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	LastActivityAt  time.Time `json:"last_activity_at"`
	IPAddress       string    `json:"ip_address"`
	LastIPAddress   string    `json:"last_ip_address"`
	UserAgent       string    `json:"user_agent"`
	RememberMe      bool      `json:"remember_me"`
	NewDevice       bool      `json:"new_device"`
	AuthenticatedAt time.Time `json:"authenticated_at"`
	AMR             []string  `json:"amr"`
}

// ListedSession is a session in a list, with its device's readable name
// ("Chrome on Windows") and type ("desktop", "mobile", …).
type ListedSession struct {
	Session
	Device     string `json:"device"`
	DeviceType string `json:"device_type"`
}

// OwnSession is one of the holder's own sessions; Current marks the one
// asking.
type OwnSession struct {
	ListedSession
	Current bool `json:"current"`
}

// User is the application's user as far as sessions are concerned.
type User struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Email    string   `json:"email"`
	IsActive bool     `json:"is_active"`
	Roles    []string `json:"roles"`
	// MaxSessions overrides the gateway's limit on the user's sessions
	// (nil: the default; 0: no limit).
	MaxSessions *int `json:"max_sessions"`
}

// Stats summarises a user's active sessions.
type Stats struct {
	ActiveSessions    int        `json:"active_sessions"`
	DistinctDevices   int        `json:"distinct_devices"`
	DistinctAddresses int        `json:"distinct_addresses"`
	OldestSessionAt   *time.Time `json:"oldest_session_at"`
	NewestSessionAt   *time.Time `json:"newest_session_at"`
	LastActivityAt    *time.Time `json:"last_activity_at"`
}

// CreateSession is a login (CreateSession, Login).
type CreateSession struct {
	UserID          string     `json:"user_id"`
	RememberMe      bool       `json:"remember_me,omitempty"`
	IPAddress       string     `json:"ip_address,omitempty"`
	UserAgent       string     `json:"user_agent,omitempty"`
	AMR             []string   `json:"amr,omitempty"`
	AuthenticatedAt *time.Time `json:"authenticated_at,omitempty"`
}

// Created is a new session: the token exists only here.
type Created struct {
	Token   string  `json:"token"`
	Session Session `json:"session"`
	// Evicted are the public ids of sessions revoked to make room under
	// the session limit.
	Evicted []string `json:"evicted"`
	// SetCookie is a ready Set-Cookie header value for the token.
	SetCookie string `json:"set_cookie"`
}

// Rotated is a session's new token.
type Rotated struct {
	Token   string  `json:"token"`
	Session Session `json:"session"`
}

// APIToken is a named API token (never its secret).
type APIToken struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Roles      []string   `json:"roles"`
}

// NewAPIToken is what CreateAPIToken asks for.
type NewAPIToken struct {
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Roles     []string   `json:"roles,omitempty"`
}

// The holder's calls: the token is the credential.

// Session returns the holder's session and user.
func (c *Client) Session(ctx context.Context, token string) (Session, User, error) {
	var out struct {
		Session Session `json:"session"`
		User    User    `json:"user"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/session", nil, &out, c.asHolder(token))
	return out.Session, out.User, err
}

// Sessions lists the holder's active sessions, newest first.
func (c *Client) Sessions(ctx context.Context, token string) ([]OwnSession, error) {
	var out struct {
		Sessions []OwnSession `json:"sessions"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/session/all", nil, &out, c.asHolder(token))
	return out.Sessions, err
}

// RevokeSession revokes one of the holder's sessions by public id.
func (c *Client) RevokeSession(ctx context.Context, token, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/session/all/"+url.PathEscape(id), nil, nil, c.asHolder(token))
	return err
}

// RevokeOtherSessions revokes every session of the holder but this one.
func (c *Client) RevokeOtherSessions(ctx context.Context, token string) (int, error) {
	var out struct {
		Revoked int `json:"revoked"`
	}
	_, err := c.do(ctx, http.MethodDelete, "/v1/session/others", nil, &out, c.asHolder(token))
	return out.Revoked, err
}

// Stats summarises the holder's active sessions.
func (c *Client) Stats(ctx context.Context, token string) (Stats, error) {
	var out Stats
	_, err := c.do(ctx, http.MethodGet, "/v1/session/stats", nil, &out, c.asHolder(token))
	return out, err
}

// Rotate gives the holder's session a new token; the old one is refused
// everywhere once this returns.
func (c *Client) Rotate(ctx context.Context, token string) (Rotated, error) {
	var out Rotated
	_, err := c.do(ctx, http.MethodPost, "/v1/session/rotate", nil, &out, c.asHolder(token))
	return out, err
}

// Your backend's calls: they need the admin token.

// PutUser creates or replaces a user (deactivate with IsActive false: every
// session of theirs is refused everywhere once this returns).
func (c *Client) PutUser(ctx context.Context, u User) (User, error) {
	in := map[string]any{"username": u.Username, "email": u.Email, "is_active": u.IsActive, "roles": u.Roles, "max_sessions": u.MaxSessions}
	var out User
	_, err := c.do(ctx, http.MethodPut, "/v1/admin/users/"+url.PathEscape(u.ID), in, &out, c.asAdmin)
	return out, err
}

// GetUser returns a user.
func (c *Client) GetUser(ctx context.Context, id string) (User, error) {
	var out User
	_, err := c.do(ctx, http.MethodGet, "/v1/admin/users/"+url.PathEscape(id), nil, &out, c.asAdmin)
	return out, err
}

// DeleteUser deletes a user with their sessions and API tokens.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/admin/users/"+url.PathEscape(id), nil, nil, c.asAdmin)
	return err
}

// CreateSession starts a session (Login does it and sets the cookie).
func (c *Client) CreateSession(ctx context.Context, s CreateSession) (Created, error) {
	var out Created
	_, err := c.do(ctx, http.MethodPost, "/v1/admin/sessions", s, &out, c.asAdmin)
	return out, err
}

// UserSessions lists a user's active sessions.
func (c *Client) UserSessions(ctx context.Context, userID string) ([]ListedSession, error) {
	var out struct {
		Sessions []ListedSession `json:"sessions"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/admin/users/"+url.PathEscape(userID)+"/sessions", nil, &out, c.asAdmin)
	return out.Sessions, err
}

// RevokeUserSessions revokes every session of a user but the one of
// exceptToken (when not empty).
func (c *Client) RevokeUserSessions(ctx context.Context, userID, exceptToken string) (int, error) {
	var in any
	if exceptToken != "" {
		in = map[string]string{"except_token": exceptToken}
	}
	var out struct {
		Revoked int `json:"revoked"`
	}
	_, err := c.do(ctx, http.MethodPost, "/v1/admin/users/"+url.PathEscape(userID)+"/sessions/revoke", in, &out, c.asAdmin)
	return out.Revoked, err
}

// RevokeSessionByID revokes any session by public id.
func (c *Client) RevokeSessionByID(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/admin/sessions/"+url.PathEscape(id), nil, nil, c.asAdmin)
	return err
}

// RotateSessionByID gives a session a new token (after a privilege change).
func (c *Client) RotateSessionByID(ctx context.Context, id string) (Rotated, error) {
	var out Rotated
	_, err := c.do(ctx, http.MethodPost, "/v1/admin/sessions/"+url.PathEscape(id)+"/rotate", nil, &out, c.asAdmin)
	return out, err
}

// Reauthenticated records that the session's user authenticated again now,
// by amr.
func (c *Client) Reauthenticated(ctx context.Context, id string, amr []string) (Session, error) {
	var out struct {
		Session Session `json:"session"`
	}
	_, err := c.do(ctx, http.MethodPost, "/v1/admin/sessions/"+url.PathEscape(id)+"/reauthenticated", map[string]any{"amr": amr}, &out, c.asAdmin)
	return out.Session, err
}

// UserStats summarises a user's active sessions.
func (c *Client) UserStats(ctx context.Context, userID string) (Stats, error) {
	var out Stats
	_, err := c.do(ctx, http.MethodGet, "/v1/admin/users/"+url.PathEscape(userID)+"/stats", nil, &out, c.asAdmin)
	return out, err
}

// CreateAPIToken creates a named API token for a user; the token is in
// this answer only.
func (c *Client) CreateAPIToken(ctx context.Context, userID string, t NewAPIToken) (string, APIToken, error) {
	var out struct {
		Token    string   `json:"token"`
		APIToken APIToken `json:"api_token"`
	}
	_, err := c.do(ctx, http.MethodPost, "/v1/admin/users/"+url.PathEscape(userID)+"/tokens", t, &out, c.asAdmin)
	return out.Token, out.APIToken, err
}

// APITokens lists a user's API tokens.
func (c *Client) APITokens(ctx context.Context, userID string) ([]APIToken, error) {
	var out struct {
		APITokens []APIToken `json:"api_tokens"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/admin/users/"+url.PathEscape(userID)+"/tokens", nil, &out, c.asAdmin)
	return out.APITokens, err
}

// RevokeAPIToken revokes an API token by id.
func (c *Client) RevokeAPIToken(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/admin/tokens/"+url.PathEscape(id), nil, nil, c.asAdmin)
	return err
}
