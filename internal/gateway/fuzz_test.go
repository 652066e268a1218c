package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

// FuzzAPI sends arbitrary bodies, paths and tokens through the real router
// (real Postgres and Redis behind it): no answer may be a 5xx, no body may
// crash anything.
func FuzzAPI(f *testing.F) {
	f.Add(uint8(0), "1", `{"username":"a","email":"e","is_active":false,"roles":["r"]}`, "")
	f.Add(uint8(1), "", `{"user_id":1,"remember_me":true,"ip_address":"::1","user_agent":"x"}`, "")
	f.Add(uint8(2), "1", `{"except_token":"3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c"}`, "")
	f.Add(uint8(3), "", `{"ip_address":"10.0.0.1","user_agent":"ua"}`, "")
	f.Add(uint8(4), "3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c", "", "3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c")
	f.Add(uint8(5), "-1", `{"username":"`+strings.Repeat("x", 300)+`"}`, "junk")
	f.Add(uint8(6), "../../x", "{", "")
	f.Add(uint8(7), "1", `{"user_id":9223372036854775807}`, "")
	// NULs and large numbers in every field (each once gave a 500).
	f.Add(uint8(0), "1", `{"username":"a\u0000b","email":"e\u0000","roles":["\u0000"]}`, "")
	f.Add(uint8(0), "1", `{"username":"ro","roles":["ro\u000ble","x\u007f"]}`, "")
	f.Add(uint8(1), "", `{"user_id":"1","user_agent":"a\u0000","ip_address":"\u0000"}`, "")
	f.Add(uint8(1), "", `{"user_id":300000000000000000000000000000}`, "")
	f.Add(uint8(1), "", `{"user_id":-1e400}`, "")
	f.Add(uint8(3), "", `{"ip_address":"1.2.3.4\u0000","user_agent":"\u0000"}`, "")
	f.Add(uint8(8), "3000000000", "", "")
	f.Add(uint8(8), "9223372036854775808", "", "")
	f.Add(uint8(8), "a\x00b", "", "")
	f.Add(uint8(0), "auth0|5f7c\x00", `{"username":"x"}`, "")
	// One gateway for the whole fuzz run.
	fuzzRep := testenv.Start(f, testenv.Config(f), gateway.Options{})
	testenv.PutUser(f, fuzzRep.URL, 1, map[string]any{"username": "fuzz"})
	fuzzTok, _ := testenv.NewSession(f, fuzzRep.URL, 1, false, "")
	f.Fuzz(func(t *testing.T, route uint8, param, body, token string) {
		if token == "" {
			token = fuzzTok
		}
		routes := []struct{ method, path string }{
			{http.MethodPut, "/v1/admin/users/" + param},
			{http.MethodPost, "/v1/admin/sessions"},
			{http.MethodPost, "/v1/admin/users/" + param + "/sessions/revoke"},
			{http.MethodPost, "/v1/session/activity"},
			{http.MethodDelete, "/v1/admin/sessions/" + param},
			{http.MethodGet, "/v1/admin/users/" + param + "/sessions"},
			{http.MethodGet, "/v1/auth"},
			{http.MethodDelete, "/v1/session/all/" + param},
			{http.MethodGet, "/v1/admin/audit?user_id=" + url.QueryEscape(param) + "&after=" + url.QueryEscape(param)},
		}
		r := routes[int(route)%len(routes)]
		req := httptest.NewRequest(r.method, "/", strings.NewReader(body))
		path, query, _ := strings.Cut(r.path, "?")
		req.URL.Path, req.URL.RawQuery = path, query
		req.URL.RawPath = ""
		if strings.Contains(r.path, "/admin/") {
			req.Header.Set("Authorization", "Bearer "+testenv.AdminToken)
			req.Header.Set("X-Session-Token", token)
		} else {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		fuzzRep.Gateway.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with body %q: %d %s", r.method, r.path, body, rec.Code, rec.Body.String())
		}
	})
}
