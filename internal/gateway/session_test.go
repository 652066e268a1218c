package gateway_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

type apiSession struct {
	ID             string    `json:"id"`
	UserID         string    `json:"user_id"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	LastActivityAt time.Time `json:"last_activity_at"`
	IPAddress      string    `json:"ip_address"`
	UserAgent      string    `json:"user_agent"`
	RememberMe     bool      `json:"remember_me"`
	Current        *bool     `json:"current"`
	// Since #14.
	AuthenticatedAt time.Time `json:"authenticated_at"`
	AMR             []string  `json:"amr"`
}

type apiUser struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Email    string   `json:"email"`
	IsActive bool     `json:"is_active"`
	Roles    []string `json:"roles"`
}

func TestRestore(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	base := rep.URL
	user(t, base, 1, "alice", "admin")
	tok, sid := testenv.NewSession(t, base, 1, true, "agent/1.0")

	r := testenv.Do(t, http.MethodGet, base+"/v1/session", nil, "Cookie", "session_id="+tok)
	wantStatus(t, "restore", r, http.StatusOK)
	var out struct {
		Session apiSession `json:"session"`
		User    apiUser    `json:"user"`
	}
	r.Decode(t, &out)
	if out.Session.ID != sid || out.Session.UserID != "1" || !out.Session.RememberMe || out.Session.IPAddress != "192.0.2.7" ||
		out.Session.UserAgent != "agent/1.0" || out.Session.CreatedAt.IsZero() || out.Session.LastActivityAt.IsZero() {
		t.Errorf("session = %+v", out.Session)
	}
	if out.User.ID != "1" || out.User.Username != "alice" || out.User.Email != "alice@example.com" || !out.User.IsActive ||
		len(out.User.Roles) != 1 || out.User.Roles[0] != "admin" {
		t.Errorf("user = %+v", out.User)
	}
	for _, key := range []string{`"id"`, `"user_id"`, `"created_at"`, `"expires_at"`, `"last_activity_at"`, `"ip_address"`, `"user_agent"`, `"remember_me"`, `"username"`, `"email"`, `"is_active"`, `"roles"`} {
		if !strings.Contains(string(r.Body), key) {
			t.Errorf("restore body lacks %s: %s", key, r.Body)
		}
	}

	r = testenv.Do(t, http.MethodGet, base+"/v1/session", nil)
	wantStatus(t, "no token", r, http.StatusUnauthorized)
	if r.ErrorCode() != "missing_token" {
		t.Errorf("no token: code %q; want missing_token", r.ErrorCode())
	}
	r = testenv.Do(t, http.MethodGet, base+"/v1/session", nil, "X-Session-Token", "junk")
	if r.Status != http.StatusUnauthorized || r.ErrorCode() != "invalid_token" {
		t.Errorf("junk token: %d %s; want 401 invalid_token", r.Status, r.Body)
	}
	testenv.PutUser(t, base, 1, map[string]any{"username": "alice", "is_active": false})
	r = testenv.Do(t, http.MethodGet, base+"/v1/session", nil, testenv.Bearer(tok)...)
	if r.Status != http.StatusForbidden || r.ErrorCode() != "user_inactive" {
		t.Errorf("inactive: %d %s; want 403 user_inactive", r.Status, r.Body)
	}
}

func TestActivity(t *testing.T) {
	t.Parallel()
	rep, clk := setup(t)
	base := rep.URL
	user(t, base, 1, "alice")
	tok, _ := testenv.NewSession(t, base, 1, false, "old-agent")
	restore := func() apiSession {
		var out struct{ Session apiSession }
		testenv.Do(t, http.MethodGet, base+"/v1/session", nil, testenv.Bearer(tok)...).Decode(t, &out)
		return out.Session
	}
	restore() // warm the caches: the activity write must drop them

	clk.Advance(time.Minute)
	r := testenv.Do(t, http.MethodPost, base+"/v1/session/activity", nil, append(testenv.Bearer(tok), "User-Agent", "new-agent")...)
	wantStatus(t, "activity from request", r, http.StatusNoContent)
	s := restore()
	if s.IPAddress != "127.0.0.1" || s.UserAgent != "new-agent" || !s.LastActivityAt.Equal(clk.Now()) {
		t.Errorf("after activity: ip %q ua %q at %v; want 127.0.0.1, new-agent, %v", s.IPAddress, s.UserAgent, s.LastActivityAt, clk.Now())
	}

	r = testenv.Do(t, http.MethodPost, base+"/v1/session/activity", map[string]string{"ip_address": "2001:db8::1", "user_agent": "body-agent"}, testenv.Bearer(tok)...)
	wantStatus(t, "activity from body", r, http.StatusNoContent)
	if s := restore(); s.IPAddress != "2001:db8::1" || s.UserAgent != "body-agent" {
		t.Errorf("after body activity: %q %q", s.IPAddress, s.UserAgent)
	}

	bad := map[string]any{
		"bad ip":        `{"ip_address":"300.1.1.1"}`,
		"unknown field": `{"ip":"1.2.3.4"}`,
		"wrong type":    `{"ip_address":4}`,
		"malformed":     `{"ip_address":`,
		"trailing":      `{} {}`,
		"not an object": `[1]`,
		"ua too long":   `{"user_agent":"` + strings.Repeat("a", 600) + `"}`,
	}
	for name, body := range bad {
		r := testenv.Do(t, http.MethodPost, base+"/v1/session/activity", body, testenv.Bearer(tok)...)
		wantStatus(t, name, r, http.StatusBadRequest)
	}
	r = testenv.Do(t, http.MethodPost, base+"/v1/session/activity", `{"user_agent":"`+strings.Repeat("a", 70<<10)+`"}`, testenv.Bearer(tok)...)
	wantStatus(t, "oversized", r, http.StatusRequestEntityTooLarge)
	wantStatus(t, "no token", testenv.Do(t, http.MethodPost, base+"/v1/session/activity", nil), http.StatusUnauthorized)
}

func TestBatchedActivityFromAuth(t *testing.T) {
	t.Parallel()
	rep, clk := setup(t)
	base := rep.URL
	user(t, base, 1, "alice")
	tok, _ := testenv.NewSession(t, base, 1, false, "")
	b := rep.Gateway.Batcher()
	ctx := context.Background()

	lastActivity := func() time.Time {
		var at time.Time
		if err := rep.Gateway.Pool().QueryRow(ctx, `SELECT last_activity_at FROM sessions`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at.UTC()
	}
	created := lastActivity()
	clk.Advance(10 * time.Second)
	for range 50 {
		wantStatus(t, "auth", auth(t, base, tok), http.StatusOK)
	}
	if got := lastActivity(); !got.Equal(created) {
		t.Errorf("last_activity_at written on the request path: %v", got)
	}
	if n := b.Pending(); n != 1 {
		t.Errorf("pending activity = %d; want 50 requests coalesced into 1", n)
	}
	b.Flush(ctx)
	if got := lastActivity(); !got.Equal(clk.Now()) {
		t.Errorf("after flush last_activity_at = %v; want %v", got, clk.Now())
	}
	clk.Advance(30 * time.Second)
	auth(t, base, tok)
	if n := b.Pending(); n != 0 {
		t.Errorf("pending within a minute of the last write = %d; want 0", n)
	}
	clk.Advance(31 * time.Second)
	auth(t, base, tok)
	if n := b.Pending(); n != 1 {
		t.Errorf("pending a minute after the last write = %d; want 1", n)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	base := rep.URL
	user(t, base, 1, "alice")
	tok, _ := testenv.NewSession(t, base, 1, false, "")
	wantStatus(t, "before", auth(t, base, tok), http.StatusOK)
	wantStatus(t, "logout", testenv.Do(t, http.MethodDelete, base+"/v1/session", nil, testenv.Bearer(tok)...), http.StatusNoContent)
	wantStatus(t, "after logout", auth(t, base, tok), http.StatusUnauthorized)
	wantStatus(t, "logout again", testenv.Do(t, http.MethodDelete, base+"/v1/session", nil, testenv.Bearer(tok)...), http.StatusNoContent)
	wantStatus(t, "logout without token", testenv.Do(t, http.MethodDelete, base+"/v1/session", nil), http.StatusUnauthorized)
	wantStatus(t, "logout with junk", testenv.Do(t, http.MethodDelete, base+"/v1/session", nil, "X-Session-Token", "x"), http.StatusUnauthorized)
}

func TestOwnSessions(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	base := rep.URL
	user(t, base, 1, "alice")
	user(t, base, 2, "bob")
	cur, curID := testenv.NewSession(t, base, 1, false, "a")
	other1, other1ID := testenv.NewSession(t, base, 1, false, "b")
	other2, _ := testenv.NewSession(t, base, 1, false, "c")
	bobTok, bobID := testenv.NewSession(t, base, 2, false, "d")

	var list struct{ Sessions []apiSession }
	r := testenv.Do(t, http.MethodGet, base+"/v1/session/all", nil, testenv.Bearer(cur)...)
	wantStatus(t, "list", r, http.StatusOK)
	r.Decode(t, &list)
	if len(list.Sessions) != 3 {
		t.Fatalf("list = %d sessions; want 3", len(list.Sessions))
	}
	for _, s := range list.Sessions {
		if s.Current == nil || *s.Current != (s.ID == curID) || s.UserID != "1" {
			t.Errorf("session %s: current = %v; want %v", s.ID, s.Current, s.ID == curID)
		}
	}

	wantStatus(t, "revoke another user's session", testenv.Do(t, http.MethodDelete, base+"/v1/session/all/"+bobID, nil, testenv.Bearer(cur)...), http.StatusNotFound)
	wantStatus(t, "bob unaffected", auth(t, base, bobTok), http.StatusOK)
	wantStatus(t, "revoke bad id", testenv.Do(t, http.MethodDelete, base+"/v1/session/all/123", nil, testenv.Bearer(cur)...), http.StatusBadRequest)
	wantStatus(t, "revoke own other", testenv.Do(t, http.MethodDelete, base+"/v1/session/all/"+other1ID, nil, testenv.Bearer(cur)...), http.StatusNoContent)
	wantStatus(t, "revoked one", auth(t, base, other1), http.StatusUnauthorized)
	wantStatus(t, "revoke it again", testenv.Do(t, http.MethodDelete, base+"/v1/session/all/"+other1ID, nil, testenv.Bearer(cur)...), http.StatusNotFound)

	wantStatus(t, "warm other2", auth(t, base, other2), http.StatusOK)
	r = testenv.Do(t, http.MethodDelete, base+"/v1/session/others", nil, testenv.Bearer(cur)...)
	wantStatus(t, "revoke others", r, http.StatusOK)
	var rev struct{ Revoked int }
	r.Decode(t, &rev)
	if rev.Revoked != 1 {
		t.Errorf("revoked = %d; want 1", rev.Revoked)
	}
	wantStatus(t, "other2 after revoke-others", auth(t, base, other2), http.StatusUnauthorized)
	wantStatus(t, "current kept", auth(t, base, cur), http.StatusOK)
	wantStatus(t, "bob kept", auth(t, base, bobTok), http.StatusOK)
	wantStatus(t, "list without token", testenv.Do(t, http.MethodGet, base+"/v1/session/all", nil), http.StatusUnauthorized)
	wantStatus(t, "revoke-others without token", testenv.Do(t, http.MethodDelete, base+"/v1/session/others", nil), http.StatusUnauthorized)
}

// TestActivityBehindTrustedProxy: the recorded address comes from
// X-Forwarded-For only when the peer is a configured proxy.
func TestActivityBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted string
		want    string
	}{
		{"trusted", "127.0.0.1/32", "198.51.100.4"},
		{"not trusted", "", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep, _ := setup(t, func(c *config.Config) {
				if tc.trusted != "" {
					c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(tc.trusted)}
				}
			})
			user(t, rep.URL, 1, "alice")
			tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")
			r := testenv.Do(t, http.MethodPost, rep.URL+"/v1/session/activity", nil,
				append(testenv.Bearer(tok), "X-Forwarded-For", "203.0.113.1, 198.51.100.4")...)
			wantStatus(t, "activity", r, http.StatusNoContent)
			var out struct{ Session apiSession }
			testenv.Do(t, http.MethodGet, rep.URL+"/v1/session", nil, testenv.Bearer(tok)...).Decode(t, &out)
			if out.Session.IPAddress != tc.want {
				t.Errorf("recorded address = %q; want %q", out.Session.IPAddress, tc.want)
			}
		})
	}
}
