package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	base := rep.URL
	paths := []struct{ method, path string }{
		{http.MethodPut, "/v1/admin/users/1"}, {http.MethodGet, "/v1/admin/users/1"},
		{http.MethodDelete, "/v1/admin/users/1"}, {http.MethodPost, "/v1/admin/sessions"},
		{http.MethodGet, "/v1/admin/users/1/sessions"}, {http.MethodPost, "/v1/admin/users/1/sessions/revoke"},
		{http.MethodDelete, "/v1/admin/sessions/3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c"}, {http.MethodPost, "/v1/admin/cleanup"},
		{http.MethodGet, "/v1/admin/no-such-path"},
	}
	for _, p := range paths {
		for name, h := range map[string][]string{
			"none":           nil,
			"wrong":          {"Authorization", "Bearer wrong-token-wrong-token"},
			"prefix":         {"Authorization", "Bearer " + testenv.AdminToken[:10]},
			"session header": {"X-Session-Token", testenv.AdminToken},
			"basic":          {"Authorization", "Basic " + testenv.AdminToken},
		} {
			r := testenv.Do(t, p.method, base+p.path, `{}`, h...)
			if r.Status != http.StatusUnauthorized || r.ErrorCode() != "unauthorized" {
				t.Errorf("%s %s with %s credentials: %d %s; want 401 unauthorized", p.method, p.path, name, r.Status, r.Body)
			}
		}
	}
	if got := rep.Logs.String(); strings.Contains(got, testenv.AdminToken[:10]) {
		t.Error("the admin token appears in the logs")
	}

	disabled, _ := setup(t, func(c *config.Config) { c.AdminToken = "" })
	for _, p := range paths {
		for _, h := range [][]string{nil, testenv.Admin(), {"Authorization", "Bearer "}} {
			r := testenv.Do(t, p.method, disabled.URL+p.path, `{}`, h...)
			wantStatus(t, "admin disabled: "+p.method+" "+p.path, r, http.StatusNotFound)
		}
	}
}

func TestAdminUsers(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	base := rep.URL
	r := testenv.PutUser(t, base, 10, map[string]any{"username": "carol"})
	wantStatus(t, "create", r, http.StatusCreated)
	var u apiUser
	r.Decode(t, &u)
	if u.ID != "10" || u.Username != "carol" || u.Email != "" || !u.IsActive || u.Roles == nil || len(u.Roles) != 0 {
		t.Errorf("created user = %+v; want defaults is_active=true roles=[]", u)
	}
	r = testenv.PutUser(t, base, 10, map[string]any{"username": "carol2", "email": "c@x", "is_active": false, "roles": []string{"ops"}})
	wantStatus(t, "update", r, http.StatusOK)
	r = testenv.Do(t, http.MethodGet, base+"/v1/admin/users/10", nil, testenv.Admin()...)
	wantStatus(t, "get", r, http.StatusOK)
	r.Decode(t, &u)
	if u.Username != "carol2" || u.Email != "c@x" || u.IsActive || len(u.Roles) != 1 {
		t.Errorf("updated user = %+v", u)
	}
	r = testenv.Do(t, http.MethodGet, base+"/v1/admin/users/11", nil, testenv.Admin()...)
	if r.Status != http.StatusNotFound || r.ErrorCode() != "user_not_found" {
		t.Errorf("get unknown: %d %s; want 404 user_not_found", r.Status, r.Body)
	}

	bad := []struct {
		name, path, body string
		want             int
	}{
		{"missing username", "/v1/admin/users/12", `{"email":"x"}`, 400},
		{"blank username", "/v1/admin/users/12", `{"username":"  "}`, 400},
		{"unknown field", "/v1/admin/users/12", `{"username":"x","admin":true}`, 400},
		{"malformed", "/v1/admin/users/12", `{"username":`, 400},
		{"empty body", "/v1/admin/users/12", ``, 400},
		{"wrong type", "/v1/admin/users/12", `{"username":"x","is_active":"yes"}`, 400},
		{"bad role", "/v1/admin/users/12", `{"username":"x","roles":["a,b"]}`, 400},
		{"id with a space", "/v1/admin/users/a%20b", `{"username":"x"}`, 400},
		{"id with a slash", "/v1/admin/users/a%2Fb", `{"username":"x"}`, 400},
		{"id not ASCII", "/v1/admin/users/%C3%A9", `{"username":"x"}`, 400},
		{"id too long", "/v1/admin/users/" + strings.Repeat("x", 129), `{"username":"x"}`, 400},
		{"username with NUL", "/v1/admin/users/12", `{"username":"a\u0000b"}`, 400},
		{"role with NUL", "/v1/admin/users/12", `{"username":"x","roles":["\u0000"]}`, 400},
		{"oversized", "/v1/admin/users/12", `{"username":"` + strings.Repeat("x", 100<<10) + `"}`, 413},
	}
	for _, b := range bad {
		r := testenv.Do(t, http.MethodPut, base+b.path, b.body, testenv.Admin()...)
		wantStatus(t, b.name, r, b.want)
		if r.ErrorCode() == "" {
			t.Errorf("%s: no error code in %s", b.name, r.Body)
		}
	}
	wantStatus(t, "get bad id", testenv.Do(t, http.MethodGet, base+"/v1/admin/users/x%20y", nil, testenv.Admin()...), http.StatusBadRequest)

	user(t, base, 20, "dave")
	tok, _ := testenv.NewSession(t, base, 20, false, "")
	wantStatus(t, "before delete", auth(t, base, tok), http.StatusOK)
	wantStatus(t, "delete", testenv.Do(t, http.MethodDelete, base+"/v1/admin/users/20", nil, testenv.Admin()...), http.StatusNoContent)
	wantStatus(t, "after delete", auth(t, base, tok), http.StatusUnauthorized)
	wantStatus(t, "delete again", testenv.Do(t, http.MethodDelete, base+"/v1/admin/users/20", nil, testenv.Admin()...), http.StatusNotFound)
}

func TestAdminSessions(t *testing.T) {
	t.Parallel()
	rep, clk := setup(t)
	base := rep.URL
	user(t, base, 1, "alice")
	user(t, base, 2, "inactive")
	testenv.PutUser(t, base, 2, map[string]any{"username": "inactive", "is_active": false})

	r := testenv.Do(t, http.MethodPost, base+"/v1/admin/sessions", map[string]any{"user_id": 1, "ip_address": "10.1.2.3", "user_agent": "ua"}, testenv.Admin()...)
	wantStatus(t, "create", r, http.StatusCreated)
	var created struct {
		Token   string     `json:"token"`
		Session apiSession `json:"session"`
	}
	r.Decode(t, &created)
	if _, err := session.ParseToken(created.Token); err != nil || created.Token != strings.ToLower(created.Token) {
		t.Errorf("token %q is not a lower-case UUID v4: %v", created.Token, err)
	}
	if !created.Session.CreatedAt.Equal(clk.Now()) || created.Session.ExpiresAt.Sub(created.Session.CreatedAt) != 24*time.Hour ||
		created.Session.IPAddress != "10.1.2.3" || created.Session.UserAgent != "ua" || created.Session.RememberMe {
		t.Errorf("created session = %+v (now %v)", created.Session, clk.Now())
	}

	for _, c := range []struct {
		name string
		body string
		want int
		code string
	}{
		{"unknown user", `{"user_id": 99}`, 404, "user_not_found"},
		{"inactive user", `{"user_id": 2}`, 409, "conflict"},
		{"missing user_id", `{"remember_me": true}`, 400, "invalid_input"},
		{"bad ip", `{"user_id": 1, "ip_address": "nope"}`, 400, "invalid_input"},
		{"unknown field", `{"user_id": 1, "ttl": 5}`, 400, "invalid_json"},
		{"user_id of a bad form", `{"user_id": "a b"}`, 400, "invalid_input"},
		{"user_id not a string or integer", `{"user_id": 1.5}`, 400, "invalid_input"},
		{"user_id null", `{"user_id": null}`, 400, "invalid_input"},
	} {
		r := testenv.Do(t, http.MethodPost, base+"/v1/admin/sessions", c.body, testenv.Admin()...)
		if r.Status != c.want || r.ErrorCode() != c.code {
			t.Errorf("%s: %d %s; want %d %s", c.name, r.Status, r.Body, c.want, c.code)
		}
	}

	t2, _ := testenv.NewSession(t, base, 1, false, "")
	t3, id3 := testenv.NewSession(t, base, 1, false, "")
	var list struct{ Sessions []apiSession }
	r = testenv.Do(t, http.MethodGet, base+"/v1/admin/users/1/sessions", nil, testenv.Admin()...)
	wantStatus(t, "list", r, http.StatusOK)
	r.Decode(t, &list)
	if len(list.Sessions) != 3 {
		t.Errorf("admin list = %d sessions; want 3", len(list.Sessions))
	}
	wantStatus(t, "list unknown user", testenv.Do(t, http.MethodGet, base+"/v1/admin/users/99/sessions", nil, testenv.Admin()...), http.StatusNotFound)

	wantStatus(t, "revoke by id", testenv.Do(t, http.MethodDelete, base+"/v1/admin/sessions/"+id3, nil, testenv.Admin()...), http.StatusNoContent)
	wantStatus(t, "revoked by id", auth(t, base, t3), http.StatusUnauthorized)
	wantStatus(t, "revoke by id again", testenv.Do(t, http.MethodDelete, base+"/v1/admin/sessions/"+id3, nil, testenv.Admin()...), http.StatusNotFound)
	wantStatus(t, "revoke bad id", testenv.Do(t, http.MethodDelete, base+"/v1/admin/sessions/zzz", nil, testenv.Admin()...), http.StatusBadRequest)

	revoke := func(body any) testenv.Response {
		return testenv.Do(t, http.MethodPost, base+"/v1/admin/users/1/sessions/revoke", body, testenv.Admin()...)
	}
	wantStatus(t, "revoke malformed except", revoke(`{"except_token":"nope"}`), http.StatusBadRequest)
	wantStatus(t, "revoke unknown user", testenv.Do(t, http.MethodPost, base+"/v1/admin/users/99/sessions/revoke", nil, testenv.Admin()...), http.StatusNotFound)
	r = revoke(map[string]string{"except_token": t2})
	wantStatus(t, "revoke except", r, http.StatusOK)
	var rev struct{ Revoked int }
	r.Decode(t, &rev)
	if rev.Revoked != 1 {
		t.Errorf("revoked = %d; want 1", rev.Revoked)
	}
	wantStatus(t, "kept", auth(t, base, t2), http.StatusOK)
	wantStatus(t, "revoked", auth(t, base, created.Token), http.StatusUnauthorized)
	r = revoke(nil)
	r.Decode(t, &rev)
	if r.Status != http.StatusOK || rev.Revoked != 1 {
		t.Errorf("revoke all: %d %s; want 200 revoked 1", r.Status, r.Body)
	}
	wantStatus(t, "all revoked", auth(t, base, t2), http.StatusUnauthorized)
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	rep, clk := setup(t)
	base := rep.URL
	user(t, base, 1, "alice")
	var short []string
	for range 3 {
		tok, _ := testenv.NewSession(t, base, 1, false, "")
		short = append(short, tok)
		wantStatus(t, "warm", auth(t, base, tok), http.StatusOK)
	}
	long, _ := testenv.NewSession(t, base, 1, true, "")
	clk.Advance(48 * time.Hour)
	r := testenv.Do(t, http.MethodPost, base+"/v1/admin/cleanup", nil, testenv.Admin()...)
	wantStatus(t, "cleanup", r, http.StatusOK)
	var out struct{ Deleted int }
	r.Decode(t, &out)
	if out.Deleted != 3 {
		t.Errorf("deleted = %d; want 3", out.Deleted)
	}
	var n int
	if err := rep.Gateway.Pool().QueryRow(t.Context(), `SELECT count(*) FROM sessions`).Scan(&n); err != nil || n != 1 {
		t.Errorf("sessions left = %d, %v; want 1", n, err)
	}
	wantStatus(t, "remember-me survives", auth(t, base, long), http.StatusOK)
	for i, tok := range short {
		wantStatus(t, fmt.Sprint("expired ", i), auth(t, base, tok), http.StatusUnauthorized)
	}
}
