package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to a sessiongw gateway. It is safe for concurrent use; make
// one per gateway and share it.
type Client struct {
	base   string // without a trailing slash
	hc     *http.Client
	admin  string
	cookie string
	near   *nearCache
	nearOp *NearCache
}

// Option configures a Client.
type Option func(*Client)

// WithAdminToken sets the admin token (SESSIONGW_ADMIN_TOKEN) that Login
// and the admin methods need.
func WithAdminToken(token string) Option { return func(c *Client) { c.admin = token } }

// WithHTTPClient sets the HTTP client (timeouts, transport, TLS). The
// default keeps connections alive, allows 64 idle connections per host, and
// times a request out after 5 seconds.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithCookieName sets the name of the session cookie; it must be the
// gateway's SESSIONGW_COOKIE_NAME (default "session_id").
func WithCookieName(name string) Option { return func(c *Client) { c.cookie = name } }

// New returns a Client for the gateway at baseURL ("http://127.0.0.1:8080").
// With WithNearCache it also starts the near cache's stream; call Close to
// stop it.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sessiongw: base URL %q is not an absolute http(s) URL", baseURL)
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), cookie: "session_id"}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
			DialContext: (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		}}
	}
	if c.nearOp != nil {
		if c.near, err = startNearCache(c, *c.nearOp); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Close stops the near cache's stream, if any. The Client is not usable
// with a near cache afterwards (it validates at the gateway).
func (c *Client) Close() error {
	if c.near != nil {
		c.near.close()
	}
	return nil
}

// Identity is who a valid session (or API token) belongs to.
type Identity struct {
	UserID    string
	Username  string
	Email     string
	Roles     []string
	SessionID string // the public, non-secret id
	// AuthenticatedAt is when the user last proved who they are.
	AuthenticatedAt time.Time
	// AMR names how they did (from the near cache, or Session; Validate
	// without a near cache leaves it empty).
	AMR []string
	// TokenName is set for a named API token.
	TokenName string
}

// HasRole reports whether the identity holds role.
func (id Identity) HasRole(role string) bool {
	for _, r := range id.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Requirements are what a check may ask beyond a valid session; the zero
// value asks nothing. They map to /v1/auth's max_age, amr, roles and
// roles_match.
type Requirements struct {
	Roles    []string      // any of them (all of them with AllRoles)
	AllRoles bool          //
	MaxAge   time.Duration // authenticated at most this long ago (0: no limit)
	AMR      []string      // every one of these methods
}

func (q Requirements) empty() bool { return len(q.Roles) == 0 && q.MaxAge <= 0 && len(q.AMR) == 0 }

func (q Requirements) query() string {
	v := url.Values{}
	if len(q.Roles) > 0 {
		v.Set("roles", strings.Join(q.Roles, ","))
		if q.AllRoles {
			v.Set("roles_match", "all")
		}
	}
	if q.MaxAge > 0 {
		v.Set("max_age", strconv.FormatInt(int64(q.MaxAge/time.Second), 10))
	}
	if len(q.AMR) > 0 {
		v.Set("amr", strings.Join(q.AMR, ","))
	}
	return v.Encode()
}

// check applies q to a cached identity (the near cache's), as the gateway
// would.
func (q Requirements) check(id Identity, now time.Time) error {
	if q.MaxAge > 0 && now.Sub(id.AuthenticatedAt) > q.MaxAge {
		return &Error{Status: http.StatusUnauthorized, Code: "reauthentication_required", Reason: "reauthentication_required", Message: "re-authentication required"}
	}
	for _, m := range q.AMR {
		if !contains(id.AMR, m) {
			return &Error{Status: http.StatusUnauthorized, Code: "reauthentication_required", Reason: "reauthentication_required", Message: "re-authentication required"}
		}
	}
	if len(q.Roles) == 0 {
		return nil
	}
	held := 0
	for _, r := range q.Roles {
		if id.HasRole(r) {
			held++
		}
	}
	if held == 0 || (q.AllRoles && held < len(q.Roles)) {
		return &Error{Status: http.StatusForbidden, Code: "missing_role", Reason: "missing_role", Message: "missing role"}
	}
	return nil
}

// Validate answers "is this session valid, and whose is it?" for a token
// (a session's or a named API token's): the Identity, or an error that
// matches ErrUnauthenticated, ErrForbidden or ErrUnavailable.
func (c *Client) Validate(ctx context.Context, token string) (Identity, error) {
	return c.ValidateWith(ctx, token, Requirements{})
}

// ValidateWith is Validate with requirements: a role, a recent
// authentication, methods. One that is not met is ErrForbidden.
func (c *Client) ValidateWith(ctx context.Context, token string, q Requirements) (Identity, error) {
	return c.validate(ctx, token, fromBearer, q)
}

// Token sources, as the gateway tells them apart (an API token is accepted
// only as a bearer token).
type source int

const (
	fromCookie source = iota
	fromBearer
)

func (c *Client) validate(ctx context.Context, token string, src source, q Requirements) (Identity, error) {
	if !wellFormed(token) {
		return Identity{}, &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Message: "malformed session token"}
	}
	if c.near != nil {
		return c.near.validate(ctx, token, src, q)
	}
	return c.auth(ctx, token, src, q)
}

// auth runs the gateway's per-request check.
func (c *Client) auth(ctx context.Context, token string, src source, q Requirements) (Identity, error) {
	path := "/v1/auth"
	if !q.empty() {
		path += "?" + q.query()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return Identity{}, err
	}
	c.credential(req, token, src)
	resp, err := c.hc.Do(req)
	if err != nil {
		return Identity{}, unavailable(err)
	}
	io.Copy(io.Discard, resp.Body) // never a body; keeps the connection reusable
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := statusError(resp, nil)
		// /v1/auth has no body: name what its status means for a
		// well-formed token (a reason, when sent, names it already).
		if e.Reason == "" {
			switch e.Status {
			case http.StatusUnauthorized:
				e.Code, e.Message = "invalid_session", "the session is unknown, expired or revoked"
			case http.StatusForbidden:
				e.Code, e.Message = "user_inactive", "the user is inactive"
			case http.StatusServiceUnavailable:
				e.Code, e.Message = "unavailable", "the gateway could not tell"
			}
		}
		return Identity{}, e
	}
	h := resp.Header
	if h.Get("X-Auth-User-Id") == "" {
		return Identity{}, fmt.Errorf("sessiongw: the gateway sent no X-Auth-User-Id: the client needs SESSIONGW_AUTH_HEADERS=sessiongw (the default)")
	}
	id := Identity{UserID: h.Get("X-Auth-User-Id"), Username: h.Get("X-Auth-Username"), Email: h.Get("X-Auth-Email"),
		SessionID: h.Get("X-Auth-Session-Id"), TokenName: h.Get("X-Auth-Token-Name"), Roles: []string{}}
	if roles := h.Get("X-Auth-Roles"); roles != "" {
		id.Roles = strings.Split(roles, ",")
	}
	id.AuthenticatedAt, _ = time.Parse(time.RFC3339, h.Get("X-Auth-Authenticated-At"))
	return id, nil
}

func (c *Client) credential(req *http.Request, token string, src source) {
	if src == fromCookie {
		req.AddCookie(&http.Cookie{Name: c.cookie, Value: token})
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
}

// wellFormed reports whether t looks like a token (a UUID v4), so a
// malformed one costs no request.
func wellFormed(t string) bool {
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' || t[14] != '4' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		if c := t[i] | 0x20; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// hashOf is the gateway's key of a token: SHA-256 of its lower-case text.
func hashOf(token string) [32]byte { return sha256.Sum256([]byte(strings.ToLower(token))) }

// do sends a JSON request and decodes a JSON answer into out (nil: none).
func (c *Client) do(ctx context.Context, method, path string, in, out any, auth func(*http.Request)) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	auth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, unavailable(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, unavailable(err)
	}
	if resp.StatusCode >= 300 {
		return resp, statusError(resp, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp, fmt.Errorf("sessiongw: %s %s: decoding the answer: %w", method, path, err)
		}
	}
	return resp, nil
}

func (c *Client) asAdmin(req *http.Request) {
	req.Header.Set("Authorization", "Bearer "+c.admin)
}

func (c *Client) asHolder(token string) func(*http.Request) {
	return func(req *http.Request) { req.Header.Set("Authorization", "Bearer "+token) }
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
