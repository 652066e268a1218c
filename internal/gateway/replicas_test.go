package gateway_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

// startReplicas runs n gateways on one schema and one Redis prefix. The
// in-process cache TTL is a minute, so a replica that rejects a session
// within the test's deadline did so because it heard the invalidation, not
// because its copy expired.
func startReplicas(t *testing.T, n int) []*testenv.Replica {
	t.Helper()
	return startReplicasWith(t, n, gateway.Options{})
}

func startReplicasWith(t *testing.T, n int, o gateway.Options) []*testenv.Replica {
	t.Helper()
	cfg := testenv.Config(t)
	cfg.LocalCacheTTL = time.Minute
	reps := make([]*testenv.Replica, n)
	for i := range reps {
		reps[i] = testenv.Start(t, cfg, o)
	}
	return reps
}

// eventually polls every replica until each answers want, within a bound
// that only a missing invalidation can exceed.
func eventually(t *testing.T, what string, reps []*testenv.Replica, token string, want int) {
	t.Helper()
	for i, rep := range reps {
		got := 0
		testdeps.WaitFor(t, 5*time.Second, func() bool { got = auth(t, rep.URL, token).Status; return got == want },
			"%s: replica %d still answers %d; want %d", what, i, got, want)
	}
}

func warm(t *testing.T, reps []*testenv.Replica, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		for i, rep := range reps {
			for range 2 { // the second answer comes from the in-process cache
				wantStatus(t, fmt.Sprintf("warm replica %d", i), auth(t, rep.URL, tok), http.StatusOK)
			}
		}
	}
}

func TestReplicasDropRevokedSessions(t *testing.T) {
	t.Parallel()
	reps := startReplicas(t, 3)
	base := reps[0].URL
	user(t, base, 1, "alice")
	user(t, base, 2, "bob")

	t.Run("Logout", func(t *testing.T) {
		tok, _ := testenv.NewSession(t, base, 1, false, "")
		warm(t, reps, tok)
		wantStatus(t, "logout", testenv.Do(t, http.MethodDelete, reps[1].URL+"/v1/session", nil, testenv.Bearer(tok)...), http.StatusNoContent)
		eventually(t, "after logout on replica 1", reps, tok, http.StatusUnauthorized)
	})
	t.Run("RevokeOthers", func(t *testing.T) {
		cur, _ := testenv.NewSession(t, base, 1, false, "")
		o1, _ := testenv.NewSession(t, base, 1, false, "")
		o2, _ := testenv.NewSession(t, base, 1, false, "")
		warm(t, reps, cur, o1, o2)
		wantStatus(t, "revoke others", testenv.Do(t, http.MethodDelete, reps[2].URL+"/v1/session/others", nil, testenv.Bearer(cur)...), http.StatusOK)
		eventually(t, "o1 after revoke-others", reps, o1, http.StatusUnauthorized)
		eventually(t, "o2 after revoke-others", reps, o2, http.StatusUnauthorized)
		eventually(t, "current after revoke-others", reps, cur, http.StatusOK)
	})
	t.Run("AdminRevoke", func(t *testing.T) {
		tok, id := testenv.NewSession(t, base, 1, false, "")
		warm(t, reps, tok)
		wantStatus(t, "admin revoke", testenv.Do(t, http.MethodDelete, reps[0].URL+"/v1/admin/sessions/"+id, nil, testenv.Admin()...), http.StatusNoContent)
		eventually(t, "after admin revoke", reps, tok, http.StatusUnauthorized)
	})
	t.Run("Deactivate", func(t *testing.T) {
		tok, _ := testenv.NewSession(t, base, 2, false, "")
		warm(t, reps, tok)
		wantStatus(t, "deactivate", testenv.PutUser(t, reps[1].URL, 2, map[string]any{"username": "bob", "is_active": false}), http.StatusOK)
		eventually(t, "after deactivation", reps, tok, http.StatusForbidden)
		wantStatus(t, "reactivate", testenv.PutUser(t, reps[2].URL, 2, map[string]any{"username": "bob", "is_active": true}), http.StatusOK)
		eventually(t, "after reactivation", reps, tok, http.StatusOK)
	})
	t.Run("RoleChange", func(t *testing.T) {
		tok, _ := testenv.NewSession(t, base, 2, false, "")
		warm(t, reps, tok)
		testenv.PutUser(t, reps[0].URL, 2, map[string]any{"username": "bob", "roles": []string{"auditor"}})
		for i, rep := range reps {
			testdeps.WaitFor(t, 5*time.Second, func() bool { return auth(t, rep.URL, tok).Header.Get("X-Auth-Roles") == "auditor" },
				"replica %d still serves the old roles", i)
		}
	})
	t.Run("DeleteUser", func(t *testing.T) {
		user(t, base, 3, "carol")
		tok, _ := testenv.NewSession(t, base, 3, false, "")
		warm(t, reps, tok)
		wantStatus(t, "delete user", testenv.Do(t, http.MethodDelete, reps[2].URL+"/v1/admin/users/3", nil, testenv.Admin()...), http.StatusNoContent)
		eventually(t, "after user deletion", reps, tok, http.StatusUnauthorized)
	})
}
