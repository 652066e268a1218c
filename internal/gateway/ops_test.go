package gateway_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/redis"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
	"github.com/sessiongw/sessiongw/internal/testenv/redistest"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	wantStatus(t, "healthz", testenv.Do(t, http.MethodGet, rep.URL+"/healthz", nil), http.StatusOK)
	r := testenv.Do(t, http.MethodGet, rep.URL+"/readyz", nil)
	wantStatus(t, "readyz", r, http.StatusOK)
	var ready struct {
		Status string
		Checks map[string]string
	}
	r.Decode(t, &ready)
	if ready.Status != "ok" || ready.Checks["postgres"] != "ok" || ready.Checks["redis"] != "ok" {
		t.Errorf("readyz = %+v", ready)
	}

	user(t, rep.URL, 1, "alice")
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	auth(t, rep.URL, tok)
	auth(t, rep.URL, tok)
	testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session", nil, testenv.Bearer(tok)...)
	var m string
	deadline := time.Now().Add(5 * time.Second) // the replica hears its own invalidation asynchronously
	for {
		m = string(testenv.Do(t, http.MethodGet, rep.URL+"/metrics", nil).Body)
		if metricValue(m, "sessiongw_invalidations_received_total") >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The logout publishes once; the outbox relay may publish the same
	// invalidation again (harmless), so these count at least one.
	for _, name := range []string{"sessiongw_invalidations_published_total", "sessiongw_invalidations_received_total"} {
		if v := metricValue(m, name); v < 1 {
			t.Errorf("%s = %v; want >= 1", name, v)
		}
	}
	for _, want := range []string{
		`sessiongw_http_requests_total{method="GET",route="/v1/auth",status="200"} 2`,
		`sessiongw_http_request_duration_seconds_bucket{route="/v1/auth"`,
		`sessiongw_cache_lookups_total{layer="local",result="hit"} 1`,
		`sessiongw_cache_lookups_total{layer="redis",result="miss"} 1`,
		`sessiongw_postgres_fallbacks_total 1`,
		`sessiongw_redis_breaker_state{state="closed"} 1`,
		`sessiongw_invalidation_subscriptions_total 1`,
		`sessiongw_postgres_query_duration_seconds_count{result="ok"}`,
		`sessiongw_redis_command_duration_seconds_count{command="get",result="ok"}`,
		`sessiongw_outbox_backlog `,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// metricValue returns the value of an unlabelled metric in a scrape (-1 if
// absent).
func metricValue(scrape, name string) float64 {
	for _, line := range strings.Split(scrape, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	t.Parallel()
	rep, _ := setup(t)
	r := testenv.Do(t, http.MethodGet, rep.URL+"/v2/nothing", nil)
	if r.Status != http.StatusNotFound || r.ErrorCode() != "not_found" {
		t.Errorf("unknown path: %d %s", r.Status, r.Body)
	}
	r = testenv.Do(t, http.MethodPatch, rep.URL+"/v1/session", nil)
	if r.Status != http.StatusMethodNotAllowed || r.ErrorCode() != "method_not_allowed" {
		t.Errorf("PATCH /v1/session: %d %s", r.Status, r.Body)
	}
	// Oversized headers are refused by the server before any handler runs.
	r = testenv.Do(t, http.MethodGet, rep.URL+"/v1/auth", nil, "X-Filler", strings.Repeat("a", 64<<10))
	wantStatus(t, "oversized header", r, http.StatusRequestHeaderFieldsTooLarge)
}

// TestRedisOutage: with Redis gone, validation falls back to Postgres (no
// 401 for valid sessions, no 503), readiness says which dependency failed,
// and a logout commits and succeeds; its cache removal is retried once Redis
// is back.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	rep, _ := setup(t, func(c *config.Config) { c.RedisURL = srv.URL() })
	base := rep.URL
	user(t, base, 1, "alice")
	cached, _ := testenv.NewSession(t, base, 1, false, "")
	uncached, _ := testenv.NewSession(t, base, 1, false, "")
	wantStatus(t, "warm", auth(t, base, cached), http.StatusOK)

	srv.Stop()
	r := testenv.Do(t, http.MethodGet, base+"/readyz", nil)
	wantStatus(t, "readyz with Redis down", r, http.StatusServiceUnavailable)
	var ready struct{ Checks map[string]string }
	r.Decode(t, &ready)
	if ready.Checks["redis"] != "unavailable" || ready.Checks["postgres"] != "ok" {
		t.Errorf("readyz checks = %v", ready.Checks)
	}
	wantStatus(t, "uncached session from Postgres", auth(t, base, uncached), http.StatusOK)
	wantStatus(t, "unknown session", auth(t, base, "3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c"), http.StatusUnauthorized)
	wantStatus(t, "logout during the outage", testenv.Do(t, http.MethodDelete, base+"/v1/session", nil, testenv.Bearer(uncached)...), http.StatusNoContent)
	wantStatus(t, "logged-out session", auth(t, base, uncached), http.StatusUnauthorized)
	if n := backlog(t, rep); n != 1 {
		t.Errorf("pending outbox entries = %d; want 1", n)
	}
	srv.Start()
	testdeps.WaitFor(t, 10*time.Second, func() bool { return backlog(t, rep) == 0 }, "the outbox entry was not relayed after Redis came back")
	wantStatus(t, "readyz after recovery", testenv.Do(t, http.MethodGet, base+"/readyz", nil), http.StatusOK)
}

// TestRevokeWhileRedisPaused: the Redis entry of a session revoked while
// Redis could not take writes is removed by the retry once it can.
func TestRevokeWhileRedisPaused(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	rep, _ := setup(t, func(c *config.Config) { c.RedisURL = srv.URL() })
	base := rep.URL
	user(t, base, 1, "alice")
	tok, _ := testenv.NewSession(t, base, 1, false, "")
	wantStatus(t, "warm", auth(t, base, tok), http.StatusOK)
	rdb := redistest.Client(t, srv.URL())
	ctx := context.Background()
	key := redis.Key(rep.Config.RedisPrefix, mustHash(t, tok))
	if n, _ := rdb.Exists(ctx, key).Result(); n != 1 {
		t.Fatalf("the session is not cached in Redis")
	}
	if err := rdb.Do(ctx, "CLIENT", "PAUSE", "3000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "logout while paused", testenv.Do(t, http.MethodDelete, base+"/v1/session", nil, testenv.Bearer(tok)...), http.StatusNoContent)
	testdeps.WaitFor(t, 15*time.Second, func() bool {
		n, err := rdb.Exists(ctx, key).Result()
		return err == nil && n == 0 && backlog(t, rep) == 0
	}, "the revoked session's Redis entry was never removed")
	wantStatus(t, "after the retry", auth(t, base, tok), http.StatusUnauthorized)
}

// backlog counts pending outbox entries.
func backlog(t *testing.T, rep *testenv.Replica) int {
	t.Helper()
	var n int
	if err := rep.Gateway.Pool().QueryRow(context.Background(), `SELECT count(*) FROM invalidation_outbox WHERE done_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustHash(t *testing.T, tok string) session.Hash {
	t.Helper()
	p, err := session.ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return p.Hash()
}

// TestPostgresCrashAndRestart: with its own Postgres crashed, a replica keeps
// answering cached sessions, answers 503 (never 401) for others and deletes
// nothing; after the restart everything validates again.
func TestPostgresCrashAndRestart(t *testing.T) {
	t.Parallel()
	pg := pgtest.StartServer(t)
	rep, _ := setup(t, func(c *config.Config) { c.DatabaseURL = pg.URL() })
	user(t, rep.URL, 1, "alice")
	cached, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	other, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	wantStatus(t, "warm", auth(t, rep.URL, cached), http.StatusOK)

	pg.Stop()
	wantStatus(t, "cached, Postgres crashed", auth(t, rep.URL, cached), http.StatusOK)
	wantStatus(t, "uncached, Postgres crashed", auth(t, rep.URL, other), http.StatusServiceUnavailable)
	r := testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session", nil, testenv.Bearer(other)...)
	wantStatus(t, "logout, Postgres crashed", r, http.StatusServiceUnavailable)
	wantStatus(t, "readyz, Postgres crashed", testenv.Do(t, http.MethodGet, rep.URL+"/readyz", nil), http.StatusServiceUnavailable)

	pg.Start()
	testdeps.WaitFor(t, 15*time.Second, func() bool { return auth(t, rep.URL, other).Status == http.StatusOK }, "the uncached session never validated again after the restart")
	wantStatus(t, "readyz after restart", testenv.Do(t, http.MethodGet, rep.URL+"/readyz", nil), http.StatusOK)
}
