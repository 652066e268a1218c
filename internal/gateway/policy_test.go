package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
)

// created is the admin create answer.
type created struct {
	Token     string     `json:"token"`
	Session   apiSession `json:"session"`
	Evicted   []string   `json:"evicted"`
	SetCookie string     `json:"set_cookie"`
}

func createSession(t *testing.T, base string, body map[string]any) (created, testenv.Response) {
	t.Helper()
	r := testenv.Do(t, http.MethodPost, base+"/v1/admin/sessions", body, testenv.Admin()...)
	var c created
	if r.Status == http.StatusCreated {
		r.Decode(t, &c)
	}
	return c, r
}

// replicasOf starts n replicas of one deployment (one configuration, one
// clock) with mods applied to the configuration.
func replicasOf(t *testing.T, n int, mods ...func(*config.Config)) ([]*testenv.Replica, *testenv.Clock) {
	t.Helper()
	cfg := testenv.Config(t)
	for _, m := range mods {
		m(&cfg)
	}
	clk := testenv.NewClock()
	reps := make([]*testenv.Replica, n)
	for i := range reps {
		reps[i] = testenv.Start(t, cfg, gateway.Options{Now: clk.Now})
	}
	return reps, clk
}

// refusedEverywhere checks, right after a change returned, that no replica
// accepts tok any more (no waiting: the guarantee is immediate).
func refusedEverywhere(t *testing.T, what string, reps []*testenv.Replica, tok string) {
	t.Helper()
	for i, rep := range reps {
		if s := auth(t, rep.URL, tok).Status; s != http.StatusUnauthorized {
			t.Errorf("%s: replica %d answered %d; want 401 at once", what, i, s)
		}
	}
}

func warmAll(t *testing.T, reps []*testenv.Replica, toks ...string) {
	t.Helper()
	for _, rep := range reps {
		for _, tok := range toks {
			wantStatus(t, "warm", auth(t, rep.URL, tok), http.StatusOK)
			wantStatus(t, "warm again", auth(t, rep.URL, tok), http.StatusOK)
		}
	}
}

func TestSessionLimit(t *testing.T) {
	t.Parallel()
	reps, clk := replicasOf(t, 3, func(c *config.Config) { c.MaxSessionsPerUser = 2 })
	base := reps[0].URL
	user(t, base, "u1", "alice")
	a, _ := createSession(t, base, map[string]any{"user_id": "u1"})
	clk.Advance(time.Second)
	b, _ := createSession(t, base, map[string]any{"user_id": "u1"})
	if len(a.Evicted) != 0 || len(b.Evicted) != 0 || a.Evicted == nil {
		t.Errorf("within the limit: evicted %v and %v; want two empty lists", a.Evicted, b.Evicted)
	}
	warmAll(t, reps, a.Token, b.Token)
	clk.Advance(time.Second)
	c, r := createSession(t, reps[1].URL, map[string]any{"user_id": "u1"})
	if r.Status != http.StatusCreated || !slices.Equal(c.Evicted, []string{a.Session.ID}) {
		t.Fatalf("third session: %d %s; want the oldest evicted", r.Status, r.Body)
	}
	refusedEverywhere(t, "the evicted session", reps, a.Token)
	for _, tok := range []string{b.Token, c.Token} {
		wantStatus(t, "a kept session", auth(t, reps[2].URL, tok), http.StatusOK)
	}
	var page auditPage
	testenv.Do(t, http.MethodGet, base+"/v1/admin/audit?user_id=u1", nil, testenv.Admin()...).Decode(t, &page)
	evictions := 0
	for _, rec := range page.Records {
		if rec.Event == "session.evicted" && rec.SessionID == a.Session.ID {
			evictions++
		}
	}
	if evictions != 1 {
		t.Errorf("session.evicted records for the evicted session: %d; want 1", evictions)
	}

	// A per-user override: refuse beyond one... then back to the default.
	wantStatus(t, "override", testenv.PutUser(t, base, "u1", map[string]any{"username": "alice", "max_sessions": 1}), http.StatusOK)
	var u struct {
		MaxSessions *int `json:"max_sessions"`
	}
	testenv.Do(t, http.MethodGet, base+"/v1/admin/users/u1", nil, testenv.Admin()...).Decode(t, &u)
	if u.MaxSessions == nil || *u.MaxSessions != 1 {
		t.Errorf("max_sessions after the override = %v; want 1", u.MaxSessions)
	}
	d, _ := createSession(t, base, map[string]any{"user_id": "u1"})
	if len(d.Evicted) != 2 {
		t.Errorf("with max_sessions 1: evicted %v; want both others", d.Evicted)
	}
	refusedEverywhere(t, "evicted under the override", reps, b.Token)
	testenv.PutUser(t, base, "u1", map[string]any{"username": "alice", "max_sessions": nil})
	testenv.Do(t, http.MethodGet, base+"/v1/admin/users/u1", nil, testenv.Admin()...).Decode(t, &u)
	if u.MaxSessions != nil {
		t.Errorf("max_sessions after null = %v; want null (the default)", *u.MaxSessions)
	}
	if r := testenv.PutUser(t, base, "u1", map[string]any{"username": "alice", "max_sessions": -1}); r.Status != http.StatusBadRequest {
		t.Errorf("max_sessions -1: %d; want 400", r.Status)
	}
}

func TestSessionLimitRefuse(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t, func(c *config.Config) { c.MaxSessionsPerUser = 1; c.SessionLimitPolicy = "refuse" })
	user(t, rep.URL, 1, "alice")
	first, _ := createSession(t, rep.URL, map[string]any{"user_id": 1})
	_, r := createSession(t, rep.URL, map[string]any{"user_id": 1})
	if r.Status != http.StatusConflict || r.ErrorCode() != "session_limit" {
		t.Errorf("over the limit with refuse: %d %s; want 409 session_limit", r.Status, r.Body)
	}
	wantStatus(t, "the existing session", auth(t, rep.URL, first.Token), http.StatusOK)
	testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session", nil, testenv.Bearer(first.Token)...)
	if _, r := createSession(t, rep.URL, map[string]any{"user_id": 1}); r.Status != http.StatusCreated {
		t.Errorf("after a logout: %d; want 201", r.Status)
	}
}

func TestSessionLimitEvictsIdlest(t *testing.T) {
	t.Parallel()
	rep, clk := setup(t, func(c *config.Config) { c.MaxSessionsPerUser = 2; c.SessionLimitPolicy = "evict_idlest" })
	user(t, rep.URL, 1, "alice")
	old, _ := createSession(t, rep.URL, map[string]any{"user_id": 1})
	clk.Advance(time.Minute)
	idle, _ := createSession(t, rep.URL, map[string]any{"user_id": 1})
	clk.Advance(time.Minute)
	// The older one is in use; the newer one is not.
	wantStatus(t, "use the old session", auth(t, rep.URL, old.Token), http.StatusOK)
	rep.Gateway.Batcher().Flush(context.Background())
	clk.Advance(time.Minute)
	c, _ := createSession(t, rep.URL, map[string]any{"user_id": 1})
	if !slices.Equal(c.Evicted, []string{idle.Session.ID}) {
		t.Errorf("evict_idlest evicted %v; want the idle one %s (not the older, active %s)", c.Evicted, idle.Session.ID, old.Session.ID)
	}
}

// TestSessionLimitConcurrentCreates: 50 creates at once for one user never
// leave more than the limit, and each evicted session is refused.
func TestSessionLimitConcurrentCreates(t *testing.T) {
	t.Parallel()
	reps, _ := replicasOf(t, 3, func(c *config.Config) { c.MaxSessionsPerUser = 5 })
	user(t, reps[0].URL, 1, "alice")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		tokens  []string
		evicted = map[string]bool{}
	)
	for i := range 50 {
		wg.Go(func() {
			r := testenv.Do(t, http.MethodPost, reps[i%3].URL+"/v1/admin/sessions", map[string]any{"user_id": 1}, testenv.Admin()...)
			if r.Status != http.StatusCreated {
				t.Errorf("create %d: %d %s", i, r.Status, r.Body)
				return
			}
			var c created
			r.Decode(t, &c)
			mu.Lock()
			defer mu.Unlock()
			tokens = append(tokens, c.Token)
			for _, id := range c.Evicted {
				if evicted[id] {
					t.Errorf("session %s evicted twice", id)
				}
				evicted[id] = true
			}
		})
	}
	wg.Wait()
	var active struct{ Sessions []apiSession }
	testenv.Do(t, http.MethodGet, reps[0].URL+"/v1/admin/users/1/sessions", nil, testenv.Admin()...).Decode(t, &active)
	if len(active.Sessions) != 5 || len(evicted) != 45 {
		t.Errorf("after 50 concurrent creates with a limit of 5: %d active, %d evicted; want 5 and 45", len(active.Sessions), len(evicted))
	}
	valid := 0
	for _, tok := range tokens {
		if auth(t, reps[1].URL, tok).Status == http.StatusOK {
			valid++
		}
	}
	if valid != 5 {
		t.Errorf("%d of the 50 tokens validate; want 5", valid)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	reps, _ := replicasOf(t, 3)
	base := reps[0].URL
	user(t, base, 1, "alice")
	c, _ := createSession(t, base, map[string]any{"user_id": 1, "remember_me": true})
	warmAll(t, reps, c.Token)

	// The holder rotates with the cookie: the answer sets the new one.
	r := testenv.Do(t, http.MethodPost, reps[1].URL+"/v1/session/rotate", nil, "Cookie", "session_id="+c.Token)
	wantStatus(t, "rotate", r, http.StatusOK)
	var out struct {
		Token   string     `json:"token"`
		Session apiSession `json:"session"`
	}
	r.Decode(t, &out)
	refusedEverywhere(t, "the old token after a rotation", reps, c.Token)
	if out.Session.ID != c.Session.ID || !out.Session.CreatedAt.Equal(c.Session.CreatedAt) || !out.Session.ExpiresAt.Equal(c.Session.ExpiresAt) {
		t.Errorf("rotated session %+v; want the same id, creation and expiry as %+v", out.Session, c.Session)
	}
	cookie := r.Header.Get("Set-Cookie")
	if !strings.HasPrefix(cookie, "session_id="+out.Token+";") || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "Secure") ||
		!strings.Contains(cookie, "SameSite=Lax") || !strings.Contains(cookie, "Path=/") || !strings.Contains(cookie, "Max-Age=") {
		t.Errorf("Set-Cookie after rotating a remember-me session = %q", cookie)
	}
	for i, rep := range reps {
		wantStatus(t, fmt.Sprintf("the new token on replica %d", i), auth(t, rep.URL, out.Token), http.StatusOK)
	}
	// Through a bearer token, no cookie is set; cross-origin is refused.
	r = testenv.Do(t, http.MethodPost, base+"/v1/session/rotate", nil, testenv.Bearer(out.Token)...)
	wantStatus(t, "rotate by bearer", r, http.StatusOK)
	if r.Header.Get("Set-Cookie") != "" {
		t.Errorf("a bearer rotation set a cookie: %q", r.Header.Get("Set-Cookie"))
	}
	r.Decode(t, &out)
	wantStatus(t, "cross-origin rotate", testenv.Do(t, http.MethodPost, base+"/v1/session/rotate", nil,
		append([]string{"Sec-Fetch-Site", "cross-site"}, testenv.Bearer(out.Token)...)...), http.StatusForbidden)

	// An admin rotates it (the app changed the user's privileges).
	warmAll(t, reps, out.Token)
	r = testenv.Do(t, http.MethodPost, base+"/v1/admin/sessions/"+c.Session.ID+"/rotate", nil, testenv.Admin()...)
	wantStatus(t, "admin rotate", r, http.StatusOK)
	old := out.Token
	r.Decode(t, &out)
	refusedEverywhere(t, "the token before the admin rotation", reps, old)
	wantStatus(t, "after the admin rotation", auth(t, reps[2].URL, out.Token), http.StatusOK)
	wantStatus(t, "rotate an unknown session", testenv.Do(t, http.MethodPost, base+"/v1/admin/sessions/b78e32c8-1c73-4b34-b244-ba6ed8fb239b/rotate", nil, testenv.Admin()...), http.StatusNotFound)

	var page auditPage
	testenv.Do(t, http.MethodGet, base+"/v1/admin/audit?user_id=1", nil, testenv.Admin()...).Decode(t, &page)
	rotated := 0
	for _, rec := range page.Records {
		if rec.Event == "session.rotated" {
			rotated++
		}
	}
	if rotated != 3 {
		t.Errorf("session.rotated records: %d; want 3", rotated)
	}
}

func TestCookiesHandledByTheGateway(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t, func(c *config.Config) { c.CookieSameSite = "strict"; c.CookieDomain = "example.com" })
	user(t, rep.URL, 1, "alice")
	c, _ := createSession(t, rep.URL, map[string]any{"user_id": 1})
	if !strings.HasPrefix(c.SetCookie, "session_id="+c.Token+";") || !strings.Contains(c.SetCookie, "HttpOnly") ||
		!strings.Contains(c.SetCookie, "Secure") || !strings.Contains(c.SetCookie, "SameSite=Strict") ||
		!strings.Contains(c.SetCookie, "Domain=example.com") || strings.Contains(c.SetCookie, "Max-Age") {
		t.Errorf("set_cookie of a session = %q; want HttpOnly, Secure, SameSite=Strict, the domain, no Max-Age", c.SetCookie)
	}
	// Logout with the cookie clears it; with a bearer token it does not.
	r := testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session", nil, "Cookie", "session_id="+c.Token)
	wantStatus(t, "logout", r, http.StatusNoContent)
	if sc := r.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "session_id=;") || !strings.Contains(sc, "Max-Age=0") || !strings.Contains(sc, "Domain=example.com") {
		t.Errorf("Set-Cookie on logout = %q; want the cookie cleared", sc)
	}
	d, _ := createSession(t, rep.URL, map[string]any{"user_id": 1})
	r = testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session", nil, testenv.Bearer(d.Token)...)
	if r.Header.Get("Set-Cookie") != "" {
		t.Errorf("a bearer logout set a cookie: %q", r.Header.Get("Set-Cookie"))
	}
}

func TestFreshness(t *testing.T) {
	t.Parallel()
	reps, clk := replicasOf(t, 3, func(c *config.Config) {
		c.LoginURL = "https://login.example.com/in"
		c.RedirectAllowedHosts = []string{"app.example.com"}
	})
	base := reps[0].URL
	user(t, base, 1, "alice")
	c, _ := createSession(t, base, map[string]any{"user_id": 1, "amr": []string{"pwd"}})
	warmAll(t, reps, c.Token)
	check := func(rep *testenv.Replica, query string) testenv.Response {
		return testenv.Do(t, http.MethodGet, rep.URL+"/v1/auth"+query, nil, testenv.Bearer(c.Token)...)
	}
	r := check(reps[0], "?max_age=300")
	if r.Status != http.StatusOK || r.Header.Get("X-Auth-Authenticated-At") != c.Session.AuthenticatedAt.UTC().Format(time.RFC3339) {
		t.Errorf("fresh: %d, X-Auth-Authenticated-At %q; want 200 and %s", r.Status, r.Header.Get("X-Auth-Authenticated-At"), c.Session.AuthenticatedAt)
	}
	clk.Advance(301 * time.Second)
	for i, rep := range reps {
		r := check(rep, "?max_age=300")
		if r.Status != http.StatusUnauthorized || r.Header.Get("X-Auth-Reason") != "reauthentication_required" {
			t.Errorf("replica %d, authenticated 301s ago, max_age=300: %d %q; want 401 reauthentication_required", i, r.Status, r.Header.Get("X-Auth-Reason"))
		}
		wantStatus(t, "no max_age", check(rep, ""), http.StatusOK)
		if r := check(rep, "?amr=otp"); r.Status != http.StatusUnauthorized || r.Header.Get("X-Auth-Reason") != "reauthentication_required" {
			t.Errorf("replica %d, amr=otp without otp: %d", i, r.Status)
		}
	}
	// A browser behind /v1/auth/redirect is sent to log in again.
	r = testenv.Do(t, http.MethodGet, base+"/v1/auth/redirect?max_age=300", nil, append(testenv.Bearer(c.Token),
		"Accept", "text/html", "X-Original-URL", "https://app.example.com/pay")...)
	if loc := r.Header.Get("Location"); r.Status != http.StatusFound || !strings.Contains(loc, "reason=reauthentication_required") || !strings.Contains(loc, "rd=https") {
		t.Errorf("redirect when not fresh: %d Location %q", r.Status, loc)
	}
	// The app re-checks the user: every replica sees it at once.
	r = testenv.Do(t, http.MethodPost, reps[1].URL+"/v1/admin/sessions/"+c.Session.ID+"/reauthenticated", map[string]any{"amr": []string{"pwd", "otp"}}, testenv.Admin()...)
	wantStatus(t, "reauthenticated", r, http.StatusOK)
	for i, rep := range reps {
		if s := check(rep, "?max_age=300&amr=otp").Status; s != http.StatusOK {
			t.Errorf("replica %d after re-authentication: %d; want 200 at once", i, s)
		}
	}
	// A requirement that does not parse fails closed, and says so.
	r = check(reps[0], "?max_age=soon")
	if r.Status != http.StatusForbidden || r.Header.Get("X-Auth-Reason") != "invalid_requirement" {
		t.Errorf("max_age=soon: %d %q; want 403 invalid_requirement", r.Status, r.Header.Get("X-Auth-Reason"))
	}
	// Envoy: the query belongs to the app; requirements come in a header.
	r = testenv.Do(t, http.MethodGet, base+"/v1/ext_authz/page?max_age=0", nil, testenv.Bearer(c.Token)...)
	wantStatus(t, "ext_authz ignores the app's query", r, http.StatusOK)
	clk.Advance(time.Hour)
	r = testenv.Do(t, http.MethodGet, base+"/v1/ext_authz/page", nil, append(testenv.Bearer(c.Token), "X-Sessiongw-Require", "max_age=300")...)
	wantStatus(t, "ext_authz with X-Sessiongw-Require", r, http.StatusUnauthorized)
	// Both sources hold: a client-sent header cannot relax the query.
	r = testenv.Do(t, http.MethodGet, base+"/v1/auth?max_age=300", nil, append(testenv.Bearer(c.Token), "X-Sessiongw-Require", "max_age=99999")...)
	wantStatus(t, "query and header both apply", r, http.StatusUnauthorized)
}

func TestRolesCheck(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	user(t, rep.URL, 1, "alice", "admin", "dev")
	c, _ := createSession(t, rep.URL, map[string]any{"user_id": 1})
	tests := []struct {
		query string
		want  int
	}{
		{"?roles=admin", 200},
		{"?roles=ops,dev", 200},
		{"?roles=ops", 403},
		{"?roles=admin,dev&roles_match=all", 200},
		{"?roles=admin,ops&roles_match=all", 403},
		{"?roles=admin&roles_match=maybe", 403},
	}
	for _, tt := range tests {
		r := testenv.Do(t, http.MethodGet, rep.URL+"/v1/auth"+tt.query, nil, testenv.Bearer(c.Token)...)
		if r.Status != tt.want {
			t.Errorf("%s: %d; want %d", tt.query, r.Status, tt.want)
		}
		if r.Status == 403 && tt.query != "?roles=admin&roles_match=maybe" && r.Header.Get("X-Auth-Reason") != "missing_role" {
			t.Errorf("%s: X-Auth-Reason %q; want missing_role", tt.query, r.Header.Get("X-Auth-Reason"))
		}
	}
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	reps, clk := replicasOf(t, 3, func(c *config.Config) { c.IdleTimeout = 15 * time.Minute })
	base := reps[0].URL
	user(t, base, "svc-1", "deployer", "deploy", "read")
	type tokenAnswer struct {
		Token    string `json:"token"`
		APIToken struct {
			ID, Name  string
			Roles     []string
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"api_token"`
	}
	create := func(body map[string]any) (tokenAnswer, testenv.Response) {
		r := testenv.Do(t, http.MethodPost, base+"/v1/admin/users/svc-1/tokens", body, testenv.Admin()...)
		var a tokenAnswer
		if r.Status == http.StatusCreated {
			r.Decode(t, &a)
		}
		return a, r
	}
	for _, bad := range []map[string]any{
		{"name": ""}, {"name": "x", "roles": []string{"admin"}},
		{"name": "x", "expires_at": clk.Now().Add(400 * 24 * time.Hour)}, {"name": "x", "expires_at": clk.Now().Add(-time.Hour)},
	} {
		if _, r := create(bad); r.Status != http.StatusBadRequest {
			t.Errorf("token %v: %d %s; want 400", bad, r.Status, r.Body)
		}
	}
	tok, r := create(map[string]any{"name": "ci deploy", "roles": []string{"deploy"}})
	if r.Status != http.StatusCreated || tok.Token == "" || tok.APIToken.Name != "ci deploy" {
		t.Fatalf("create token: %d %s", r.Status, r.Body)
	}
	// Validated as a bearer token only, with its own roles and name.
	r = auth(t, reps[1].URL, tok.Token)
	if r.Status != http.StatusOK || r.Header.Get("X-Auth-Token-Name") != "ci deploy" || r.Header.Get("X-Auth-Roles") != "deploy" {
		t.Errorf("bearer token: %d name %q roles %q", r.Status, r.Header.Get("X-Auth-Token-Name"), r.Header.Get("X-Auth-Roles"))
	}
	wantStatus(t, "token as a cookie", testenv.Do(t, http.MethodGet, base+"/v1/auth", nil, "Cookie", "session_id="+tok.Token), http.StatusUnauthorized)
	wantStatus(t, "token in X-Session-Token", testenv.Do(t, http.MethodGet, base+"/v1/auth", nil, "X-Session-Token", tok.Token), http.StatusUnauthorized)
	wantStatus(t, "token on a holder endpoint", testenv.Do(t, http.MethodGet, base+"/v1/session/all", nil, testenv.Bearer(tok.Token)...), http.StatusUnauthorized)
	// Not subject to the idle timeout.
	clk.Advance(time.Hour)
	wantStatus(t, "token after an hour idle", auth(t, base, tok.Token), http.StatusOK)
	// Listed apart from sessions.
	var tokens struct {
		APITokens []struct{ ID, Name string } `json:"api_tokens"`
	}
	testenv.Do(t, http.MethodGet, base+"/v1/admin/users/svc-1/tokens", nil, testenv.Admin()...).Decode(t, &tokens)
	var sessions struct{ Sessions []apiSession }
	testenv.Do(t, http.MethodGet, base+"/v1/admin/users/svc-1/sessions", nil, testenv.Admin()...).Decode(t, &sessions)
	if len(tokens.APITokens) != 1 || tokens.APITokens[0].ID != tok.APIToken.ID || len(sessions.Sessions) != 0 {
		t.Errorf("tokens %+v, sessions %+v; want the token listed apart", tokens, sessions)
	}
	// Deleting it refuses it everywhere at once.
	warmAll(t, reps, tok.Token)
	wantStatus(t, "delete token", testenv.Do(t, http.MethodDelete, base+"/v1/admin/tokens/"+tok.APIToken.ID, nil, testenv.Admin()...), http.StatusNoContent)
	refusedEverywhere(t, "a deleted API token", reps, tok.Token)
	wantStatus(t, "delete it again", testenv.Do(t, http.MethodDelete, base+"/v1/admin/tokens/"+tok.APIToken.ID, nil, testenv.Admin()...), http.StatusNotFound)
	// Deactivating the user revokes their tokens.
	other, _ := create(map[string]any{"name": "nightly"})
	warmAll(t, reps, other.Token)
	testenv.PutUser(t, base, "svc-1", map[string]any{"username": "deployer", "is_active": false, "roles": []string{"deploy", "read"}})
	for i, rep := range reps {
		if s := auth(t, rep.URL, other.Token).Status; s == http.StatusOK {
			t.Errorf("replica %d accepted a token of a deactivated user", i)
		}
	}
	testenv.PutUser(t, base, "svc-1", map[string]any{"username": "deployer", "roles": []string{"deploy", "read"}})
	refusedEverywhere(t, "a token revoked by deactivation, after reactivation", reps, other.Token)
}

// redisCounter counts Redis commands (heartbeats and the bus's own traffic
// included, so tests compare counts around one request).
type redisCounter struct{ n atomic.Int64 }

func (c *redisCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (c *redisCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if cmd.Name() == "get" || cmd.Name() == "evalsha" || cmd.Name() == "eval" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *redisCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// TestRequirementsCostNoRoundTrip: a freshness or role check on a session
// the replica holds in process asks neither Redis nor Postgres.
func TestRequirementsCostNoRoundTrip(t *testing.T) {
	t.Parallel()
	pg := &pgtest.QueryCounter{Match: "FROM sessions s JOIN users u"}
	rc := &redisCounter{}
	rep := testenv.Start(t, testenv.Config(t), gateway.Options{PGTracer: pg, RedisHook: rc})
	user(t, rep.URL, 1, "alice", "admin")
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	wantStatus(t, "warm", auth(t, rep.URL, tok), http.StatusOK)
	pg0, rd0 := pg.Count(), rc.n.Load()
	for _, q := range []string{"?max_age=300", "?roles=admin", "?roles=admin&max_age=300&amr=pwd", "?roles=ops"} {
		testenv.Do(t, http.MethodGet, rep.URL+"/v1/auth"+q, nil, testenv.Bearer(tok)...)
	}
	if pg.Count() != pg0 || rc.n.Load() != rd0 {
		t.Errorf("checks with requirements on a cached session: %d Postgres lookups and %d Redis reads; want none", pg.Count()-pg0, rc.n.Load()-rd0)
	}
}
