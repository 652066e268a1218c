package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/testenv"
)

func TestAuthEndpoint(t *testing.T) {
	t.Parallel()
	rep, clk := setup(t)
	base := rep.URL
	user(t, base, 1, "alice", "admin", "dev")
	tok, sid := testenv.NewSession(t, base, 1, false, "test-agent")

	checkEmpty := func(name string, r testenv.Response) {
		t.Helper()
		if len(r.Body) != 0 || r.Header.Get("Content-Length") != "0" {
			t.Errorf("%s: body %q, Content-Length %q; want an empty body with Content-Length 0", name, r.Body, r.Header.Get("Content-Length"))
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q; want no-store", name, r.Header.Get("Cache-Control"))
		}
	}

	t.Run("OK", func(t *testing.T) {
		for _, src := range [][]string{
			{"Cookie", "session_id=" + tok},
			testenv.Bearer(tok),
			{"X-Session-Token", tok},
			{"X-Session-Token", strings.ToUpper(tok)},
		} {
			for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodHead, http.MethodPut, http.MethodDelete} {
				r := testenv.Do(t, method, base+"/v1/auth", nil, src...)
				wantStatus(t, method+" "+src[0], r, http.StatusOK)
				checkEmpty(method+" "+src[0], r)
				want := map[string]string{"X-Auth-User-Id": "1", "X-Auth-Username": "alice",
					"X-Auth-Email": "alice@example.com", "X-Auth-Roles": "admin,dev", "X-Auth-Session-Id": sid}
				for k, v := range want {
					if got := r.Header.Get(k); got != v {
						t.Errorf("%s %s: %s = %q; want %q", method, src[0], k, got, v)
					}
				}
			}
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		unknown := "3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c"
		cases := map[string][]string{
			"missing":               nil,
			"malformed":             {"X-Session-Token", "not-a-token"},
			"v1 uuid":               {"X-Session-Token", "3f1c2a9e-5b7d-1c1e-9a2b-8d7e6f5a4b3c"},
			"unknown":               {"X-Session-Token", unknown},
			"malformed cookie wins": {"Cookie", "session_id=nope", "X-Session-Token", tok},
		}
		for name, h := range cases {
			r := testenv.Do(t, http.MethodGet, base+"/v1/auth", nil, h...)
			wantStatus(t, name, r, http.StatusUnauthorized)
			checkEmpty(name, r)
			if r.Header.Get("X-Auth-User-Id") != "" {
				t.Errorf("%s: identity header on a denied answer", name)
			}
		}
	})

	t.Run("ErrExpired", func(t *testing.T) {
		tok2, _ := testenv.NewSession(t, base, 1, false, "")
		wantStatus(t, "fresh", auth(t, base, tok2), http.StatusOK) // now cached in both layers
		clk.Advance(24*time.Hour + time.Second)
		wantStatus(t, "expired while cached", auth(t, base, tok2), http.StatusUnauthorized)
		clk.Advance(-(24*time.Hour + time.Second))
	})

	t.Run("ErrUserInactive", func(t *testing.T) {
		user(t, base, 2, "bob")
		tok3, _ := testenv.NewSession(t, base, 2, false, "")
		wantStatus(t, "active", auth(t, base, tok3), http.StatusOK)
		r := testenv.PutUser(t, base, 2, map[string]any{"username": "bob", "is_active": false})
		wantStatus(t, "deactivate", r, http.StatusOK)
		r = auth(t, base, tok3)
		wantStatus(t, "inactive", r, http.StatusForbidden)
		checkEmpty("inactive", r)
		testenv.PutUser(t, base, 2, map[string]any{"username": "bob", "is_active": true})
		wantStatus(t, "reactivated", auth(t, base, tok3), http.StatusOK)
	})
}

func TestRememberMeExpiry(t *testing.T) {
	t.Parallel()
	rep, clk := setup(t)
	base := rep.URL
	user(t, base, 1, "alice")
	short, _ := testenv.NewSession(t, base, 1, false, "")
	long, _ := testenv.NewSession(t, base, 1, true, "")

	var out struct {
		Session struct {
			CreatedAt time.Time `json:"created_at"`
			ExpiresAt time.Time `json:"expires_at"`
		}
	}
	testenv.Do(t, http.MethodGet, base+"/v1/session", nil, testenv.Bearer(long)...).Decode(t, &out)
	if d := out.Session.ExpiresAt.Sub(out.Session.CreatedAt); d != 720*time.Hour {
		t.Errorf("remember-me lifetime = %v; want 720h", d)
	}
	testenv.Do(t, http.MethodGet, base+"/v1/session", nil, testenv.Bearer(short)...).Decode(t, &out)
	if d := out.Session.ExpiresAt.Sub(out.Session.CreatedAt); d != 24*time.Hour {
		t.Errorf("default lifetime = %v; want 24h", d)
	}

	clk.Advance(25 * time.Hour)
	wantStatus(t, "default after 25h", auth(t, base, short), http.StatusUnauthorized)
	wantStatus(t, "remember-me after 25h", auth(t, base, long), http.StatusOK)
	clk.Advance(696 * time.Hour) // 721h in all
	wantStatus(t, "remember-me after 721h", auth(t, base, long), http.StatusUnauthorized)
}
