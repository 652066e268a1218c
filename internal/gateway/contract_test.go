package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

// TestAnswersAreHeldToTheContract: testenv wraps every test gateway in the
// OpenAPI checker; this makes sure it is really validating answers of
// every kind (a test that cannot fail would not be worth its name).
func TestAnswersAreHeldToTheContract(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	user(t, rep.URL, 1, "alice", "admin")
	tok, _ := createSession(t, rep.URL, map[string]any{"user_id": 1})
	before := rep.Contract.Checked()
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/auth"}, {"GET", "/v1/session"}, {"GET", "/v1/session/all"}, {"GET", "/v1/session/stats"},
		{"GET", "/v1/admin/users/1"}, {"GET", "/v1/admin/users/1/sessions"}, {"GET", "/v1/admin/audit"},
		{"GET", "/v1/admin/audit/verify"}, {"GET", "/readyz"}, {"GET", "/healthz"}, {"GET", "/v1/openapi.json"},
	} {
		if s := doReq(t, r.method, rep.URL+r.path, bearerOrAdmin(r.path, tok.Token)...); s >= 500 {
			t.Errorf("%s %s: %d", r.method, r.path, s)
		}
	}
	// Validation runs after the answer has gone out.
	testdeps.WaitFor(t, 5*time.Second, func() bool { return rep.Contract.Checked()-before == 11 },
		"the contract checker validated %d of 11 answers; skipped %q", rep.Contract.Checked()-before, rep.Contract.Skipped())
	if v := rep.Contract.Violations(); len(v) != 0 {
		t.Errorf("violations: %q", v)
	}
}

func bearerOrAdmin(path, tok string) []string {
	if len(path) > 9 && path[:9] == "/v1/admin" {
		return []string{"Authorization", "Bearer test-admin-token-0123456789"}
	}
	return []string{"Authorization", "Bearer " + tok}
}

func doReq(t *testing.T, method, url string, kv ...string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
