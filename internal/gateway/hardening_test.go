package gateway_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
)

// TestUnknownTokensAreMeteredOnEveryEndpoint floods every endpoint that
// looks a token up with random well-formed tokens from one address each,
// and counts the Postgres lookups by token that got through: the rate
// limit (5/s, bursts of 10) bounds them everywhere, logout's idempotent 204
// included, and the flood is eventually refused (429; 503 on /v1/auth).
func TestUnknownTokensAreMeteredOnEveryEndpoint(t *testing.T) {
	t.Parallel()
	counter := &pgtest.QueryCounter{Match: "token_hash = $1"}
	cfg := testenv.Config(t)
	cfg.RateLimit = 5
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	rep := testenv.Start(t, cfg, gateway.Options{PGTracer: counter})
	user(t, rep.URL, 1, "alice")
	valid, sid := testenv.NewSession(t, rep.URL, 1, false, "")
	wantStatus(t, "warm", auth(t, rep.URL, valid), http.StatusOK)

	endpoints := []struct {
		method, path, body string
		limited            int
	}{
		{"GET", "/v1/auth", "", http.StatusServiceUnavailable},
		{"GET", "/v1/auth/redirect", "", http.StatusServiceUnavailable},
		{"GET", "/v1/session", "", http.StatusTooManyRequests},
		{"DELETE", "/v1/session", "", http.StatusTooManyRequests},
		{"GET", "/v1/session/all", "", http.StatusTooManyRequests},
		{"GET", "/v1/session/stats", "", http.StatusTooManyRequests},
		{"POST", "/v1/session/activity", `{"ip_address":"192.0.2.1"}`, http.StatusTooManyRequests},
		{"DELETE", "/v1/session/others", "", http.StatusTooManyRequests},
		{"DELETE", "/v1/session/new_device", "", http.StatusTooManyRequests},
		{"DELETE", "/v1/session/all/" + sid, "", http.StatusTooManyRequests},
	}
	const flood = 60
	for i, ep := range endpoints {
		client := fmt.Sprintf("198.51.100.%d", i+1)
		before, start := counter.Count(), time.Now()
		limited := 0
		for range flood {
			tok, _ := session.NewToken()
			var body any
			if ep.body != "" {
				body = ep.body
			}
			r := testenv.Do(t, ep.method, rep.URL+ep.path, body, "Authorization", "Bearer "+tok.Reveal(), "X-Forwarded-For", client)
			switch r.Status {
			case ep.limited:
				limited++
			case http.StatusUnauthorized, http.StatusNoContent: // unknown token; logout is idempotent
			default:
				t.Fatalf("%s %s with an unknown token: %d %s", ep.method, ep.path, r.Status, r.Body)
			}
		}
		queries := counter.Count() - before
		if allowed := 10 + int64(5*time.Since(start).Seconds()) + 2; queries > allowed {
			t.Errorf("%s %s: %d Postgres lookups for %d unknown tokens; want at most %d (5/s, bursts of 10)", ep.method, ep.path, queries, flood, allowed)
		}
		if limited == 0 {
			t.Errorf("%s %s: no request of the flood was refused", ep.method, ep.path)
		}
		// The flooding address's own valid (cached) session still works.
		wantStatus(t, ep.path+": valid session of the flooding address", testenv.Do(t, http.MethodGet, rep.URL+"/v1/session", nil,
			"Authorization", "Bearer "+valid, "X-Forwarded-For", client), http.StatusOK)
	}
	// Logout of a cached session works even over budget.
	client := "198.51.100.1" // spent by the /v1/auth flood above
	wantStatus(t, "logout of a valid session over budget", testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session", nil,
		"Authorization", "Bearer "+valid, "X-Forwarded-For", client), http.StatusNoContent)
	wantStatus(t, "after that logout", auth(t, rep.URL, valid), http.StatusUnauthorized)
}
