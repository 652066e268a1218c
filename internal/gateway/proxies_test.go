package gateway_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/httpapi"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

func TestAuthHeaderSets(t *testing.T) {
	t.Parallel()
	want := map[string]map[string]string{
		"sessiongw": {"X-Auth-User-Id": "7", "X-Auth-Username": "carol", "X-Auth-Email": "", "X-Auth-Roles": ""},
		"oauth2-proxy": {"X-Auth-Request-User": "7", "X-Auth-Request-Email": "", "X-Auth-Request-Groups": "",
			"X-Auth-Request-Preferred-Username": "carol"},
		"authelia": {"Remote-User": "carol", "Remote-Email": "", "Remote-Groups": "", "Remote-Name": "carol"},
	}
	for set, headers := range want {
		t.Run(set, func(t *testing.T) {
			t.Parallel()
			rep, _ := setup(t, func(c *config.Config) { c.AuthHeaders = set })
			// No email and no roles: those headers must still be present, empty.
			testenv.PutUser(t, rep.URL, 7, map[string]any{"username": "carol"})
			tok, _ := testenv.NewSession(t, rep.URL, 7, false, "")
			r := auth(t, rep.URL, tok)
			wantStatus(t, set, r, http.StatusOK)
			for k, v := range headers {
				got, present := r.Header[http.CanonicalHeaderKey(k)]
				if !present || len(got) != 1 || got[0] != v {
					t.Errorf("%s: %s = %q (present %v); want %q", set, k, got, present, v)
				}
			}
			if len(httpapi.IdentityHeaderNames(set)) < 4 {
				t.Errorf("%s: header set too small", set)
			}
			for other := range want {
				if other == set {
					continue
				}
				for _, k := range httpapi.IdentityHeaderNames(other) {
					if _, clash := headers[k]; !clash && r.Header.Get(k) != "" {
						t.Errorf("%s: header %s of set %s was sent", set, k, other)
					}
				}
			}
		})
	}
}

// TestEnvoyExtAuthzContract: Envoy's HTTP ext_authz service calls
// path_prefix + the original path with the original method; the cookie
// arrives only when allowed_headers lists it.
func TestEnvoyExtAuthzContract(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	user(t, rep.URL, 1, "alice")
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		for _, path := range []string{"/v1/ext_authz", "/v1/ext_authz/", "/v1/ext_authz/api/items/42?x=1"} {
			r := testenv.Do(t, method, rep.URL+path, nil, "Cookie", "session_id="+tok, "X-Envoy-Expected-Rq-Timeout-Ms", "200")
			wantStatus(t, method+" "+path, r, http.StatusOK)
			if r.Header.Get("X-Auth-User-Id") != "1" || len(r.Body) != 0 {
				t.Errorf("%s %s: user header %q, body %q", method, path, r.Header.Get("X-Auth-User-Id"), r.Body)
			}
			wantStatus(t, method+" "+path+" without the cookie header", testenv.Do(t, method, rep.URL+path, nil), http.StatusUnauthorized)
		}
	}
}

// TestTraefikForwardAuthContract: Traefik forwards the original request's
// headers and describes it in X-Forwarded-Method/Proto/Host/Uri.
func TestTraefikForwardAuthContract(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	user(t, rep.URL, 1, "alice")
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	fwd := []string{"X-Forwarded-Method", "POST", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example.com",
		"X-Forwarded-Uri", "/orders?id=3", "X-Forwarded-For", "203.0.113.7"}
	r := testenv.Do(t, http.MethodGet, rep.URL+"/v1/auth", nil, append(fwd, "Cookie", "session_id="+tok)...)
	wantStatus(t, "valid", r, http.StatusOK)
	if r.Header.Get("X-Auth-Username") != "alice" {
		t.Errorf("X-Auth-Username = %q", r.Header.Get("X-Auth-Username"))
	}
	wantStatus(t, "no session", testenv.Do(t, http.MethodGet, rep.URL+"/v1/auth", nil, fwd...), http.StatusUnauthorized)
}

func TestAuthRedirect(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t, func(c *config.Config) {
		c.LoginURL = "https://login.example.com/signin?app=shop"
		c.RedirectAllowedHosts = []string{"app.example.com", "admin.example.com:8443"}
	})
	user(t, rep.URL, 1, "alice")
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	browser := []string{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}
	traefik := append([]string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", "/cart?item=7"}, browser...)
	loc := func(r testenv.Response) (string, string) {
		u, err := url.Parse(r.Header.Get("Location"))
		if err != nil {
			return "", ""
		}
		return u.Scheme + "://" + u.Host + u.Path + "?app=" + u.Query().Get("app"), u.Query().Get("rd")
	}
	redirect := func(method string, h ...string) testenv.Response {
		return testenv.Do(t, method, rep.URL+"/v1/auth/redirect", nil, h...)
	}

	r := redirect(http.MethodGet, traefik...)
	wantStatus(t, "browser GET, no session (Traefik headers)", r, http.StatusFound)
	if base, rd := loc(r); base != "https://login.example.com/signin?app=shop" || rd != "https://app.example.com/cart?item=7" {
		t.Errorf("Location = %q; want the login URL with rd=https://app.example.com/cart?item=7", r.Header.Get("Location"))
	}
	if len(r.Body) != 0 {
		t.Errorf("redirect has a body: %q", r.Body)
	}
	wantStatus(t, "browser POST (X-Forwarded-Method)", redirect(http.MethodGet, append(traefik, "X-Forwarded-Method", "POST")...), http.StatusSeeOther)
	wantStatus(t, "browser POST (subrequest method)", redirect(http.MethodPost, traefik...), http.StatusSeeOther)

	r = redirect(http.MethodGet, append([]string{"X-Original-URL", "https://admin.example.com:8443/users"}, browser...)...)
	wantStatus(t, "nginx X-Original-URL", r, http.StatusFound)
	if _, rd := loc(r); rd != "https://admin.example.com:8443/users" {
		t.Errorf("rd = %q", rd)
	}
	r = testenv.Do(t, http.MethodGet, rep.URL+"/v1/auth/redirect", nil, append([]string{"X-Original-URI", "/help", "X-Forwarded-Proto", "http", "X-Forwarded-Host", "app.example.com"}, browser...)...)
	wantStatus(t, "nginx X-Original-URI", r, http.StatusFound)
	if _, rd := loc(r); rd != "http://app.example.com/help" {
		t.Errorf("rd = %q", rd)
	}

	for name, h := range map[string][]string{
		"XMLHttpRequest":     append([]string{"X-Requested-With", "XMLHttpRequest"}, traefik...),
		"API client":         {"Accept", "application/json", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", "/"},
		"host not allowed":   {"Accept", "text/html", "X-Forwarded-Host", "evil.example.net", "X-Forwarded-Uri", "/"},
		"scheme not allowed": {"Accept", "text/html", "X-Original-URL", "javascript://app.example.com/x"},
		"malformed token":    append([]string{"X-Session-Token", "junk"}, "Accept", "text/html"),
	} {
		r := redirect(http.MethodGet, h...)
		wantStatus(t, name, r, http.StatusUnauthorized)
		if r.Header.Get("Location") != "" {
			t.Errorf("%s: Location %q on a 401", name, r.Header.Get("Location"))
		}
	}

	r = redirect(http.MethodGet, append(traefik, "Cookie", "session_id="+tok)...)
	wantStatus(t, "valid session", r, http.StatusOK)
	if r.Header.Get("X-Auth-User-Id") != "1" {
		t.Error("no identity headers on allow")
	}
	testenv.PutUser(t, rep.URL, 1, map[string]any{"username": "alice", "is_active": false})
	wantStatus(t, "inactive user: 403, not a login redirect", redirect(http.MethodGet, append(traefik, "Cookie", "session_id="+tok)...), http.StatusForbidden)

	plain, _ := setup(t)
	wantStatus(t, "no login URL configured", testenv.Do(t, http.MethodGet, plain.URL+"/v1/auth/redirect", nil, traefik...), http.StatusUnauthorized)
}
