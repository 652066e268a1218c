package gateway_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

// twoReplicas starts two gateways on one configuration and one clock.
func twoReplicas(t *testing.T, mod func(*config.Config)) (a, b *testenv.Replica, clk *testenv.Clock) {
	t.Helper()
	cfg := testenv.Config(t)
	mod(&cfg)
	clk = testenv.NewClock()
	o := gateway.Options{Now: clk.Now}
	return testenv.Start(t, cfg, o), testenv.Start(t, cfg, o), clk
}

// sameDeviceSession creates a session whose address and user agent are
// those of this test's requests (127.0.0.1, Go's client), so activity from
// them is not a new device.
func sameDeviceSession(t *testing.T, base string, userID any, rememberMe bool) (token, id string) {
	t.Helper()
	token, id, _ = testenv.NewSessionFrom(t, base, userID, rememberMe, "127.0.0.1", "Go-http-client/1.1")
	return token, id
}

func flush(rs ...*testenv.Replica) {
	for _, r := range rs {
		r.Gateway.Batcher().Flush(context.Background())
	}
}

func storedExpiry(t *testing.T, rep *testenv.Replica, id string) time.Time {
	t.Helper()
	var at time.Time
	if err := rep.Gateway.Pool().QueryRow(context.Background(), `SELECT expires_at FROM sessions WHERE public_id = $1`, id).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at.UTC()
}

// outboxRows counts the outbox rows ever written (its id sequence), which
// the relay's purge of old done rows cannot lower (the tests' clocks run
// hours ahead, so it may purge between two counts).
func outboxRows(t *testing.T, rep *testenv.Replica) int {
	t.Helper()
	var n int
	if err := rep.Gateway.Pool().QueryRow(context.Background(),
		`SELECT coalesce(pg_sequence_last_value('invalidation_outbox_id_seq'), 0)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	a, b, clk := twoReplicas(t, func(c *config.Config) { c.IdleTimeout = 10 * time.Minute })
	user(t, a.URL, 1, "alice")
	tok, _ := testenv.NewSession(t, a.URL, 1, false, "")
	wantStatus(t, "fresh session", auth(t, a.URL, tok), http.StatusOK) // cached on a, last activity = creation

	clk.Advance(9 * time.Minute)
	wantStatus(t, "after 9 idle minutes", auth(t, a.URL, tok), http.StatusOK)
	clk.Advance(9 * time.Minute)
	// a's cached copy still says "created 18 minutes ago", but a saw the
	// activity 9 minutes ago (not written yet).
	wantStatus(t, "9 minutes after the last request, unwritten", auth(t, a.URL, tok), http.StatusOK)

	// Activity seen only by b keeps the session alive on a: a's copy looks
	// idle, so a reads the session again. (b knows of a's activity once a
	// has written it: every SESSIONGW activity flush, 5s in production.)
	flush(a)
	clk.Advance(5 * time.Minute)
	wantStatus(t, "on b", auth(t, b.URL, tok), http.StatusOK)
	flush(a, b)
	clk.Advance(8 * time.Minute) // 13 minutes after a's last request, 8 after b's
	wantStatus(t, "on a, 8 minutes after activity on b", auth(t, a.URL, tok), http.StatusOK)

	flush(a, b)
	clk.Advance(10 * time.Minute)
	wantStatus(t, "after 10 idle minutes, on a", auth(t, a.URL, tok), http.StatusUnauthorized)
	wantStatus(t, "after 10 idle minutes, on b", auth(t, b.URL, tok), http.StatusUnauthorized)
	r := testenv.Do(t, http.MethodGet, a.URL+"/v1/session", nil, testenv.Bearer(tok)...)
	wantStatus(t, "restore of an idle session", r, http.StatusUnauthorized)
}

func TestRollingExpiry(t *testing.T) {
	t.Parallel()
	a, b, clk := twoReplicas(t, func(c *config.Config) {
		c.Rolling, c.SessionTTL, c.RememberMeTTL, c.AbsoluteTTL = true, time.Hour, 2*time.Hour, 3*time.Hour
	})
	user(t, a.URL, 1, "alice")
	t0 := clk.Now()
	tok, id := sameDeviceSession(t, a.URL, 1, false)
	if got := storedExpiry(t, a, id); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("new session expires %v; want %v", got, t0.Add(time.Hour))
	}
	wantStatus(t, "cache it on b", auth(t, b.URL, tok), http.StatusOK)
	outbox := outboxRows(t, a)

	clk.Advance(50 * time.Minute)
	wantStatus(t, "at 50m", auth(t, a.URL, tok), http.StatusOK)
	flush(a)
	if got, want := storedExpiry(t, a, id), t0.Add(50*time.Minute+time.Hour); !got.Equal(want) {
		t.Errorf("after activity at 50m the session expires %v; want %v", got, want)
	}
	if n := outboxRows(t, a); n != outbox {
		t.Errorf("a rolling extension invalidated caches (%d outbox rows, was %d)", n, outbox)
	}
	// b's cached copy still holds the old expiry; past it, b reads the
	// session again instead of refusing it.
	clk.Advance(20 * time.Minute) // 1h10m
	wantStatus(t, "on b past the first expiry", auth(t, b.URL, tok), http.StatusOK)
	flush(b)
	for _, step := range []time.Duration{50 * time.Minute, 50 * time.Minute} { // activity at 2h00, 2h50
		clk.Advance(step)
		wantStatus(t, "keep going", auth(t, a.URL, tok), http.StatusOK)
		flush(a)
	}
	if got, want := storedExpiry(t, a, id), t0.Add(3*time.Hour); !got.Equal(want) {
		t.Errorf("expiry after activity at 2h50 = %v; want the absolute cap %v", got, want)
	}
	clk.Advance(10*time.Minute + time.Second) // 3h00m01
	wantStatus(t, "past the absolute cap", auth(t, a.URL, tok), http.StatusUnauthorized)
	wantStatus(t, "past the absolute cap, on b", auth(t, b.URL, tok), http.StatusUnauthorized)

	// A remember-me session rolls by its own TTL.
	t1 := clk.Now()
	rtok, rid := sameDeviceSession(t, a.URL, 1, true)
	clk.Advance(10 * time.Minute)
	wantStatus(t, "remember-me", auth(t, a.URL, rtok), http.StatusOK)
	flush(a)
	if got, want := storedExpiry(t, a, rid), t1.Add(10*time.Minute+2*time.Hour); !got.Equal(want) {
		t.Errorf("remember-me expiry = %v; want %v", got, want)
	}
	// An earlier expiry, set with plain SQL, still invalidates.
	before := outboxRows(t, a)
	if _, err := a.Gateway.Pool().Exec(context.Background(), `UPDATE sessions SET expires_at = expires_at - interval '1 minute' WHERE public_id = $1`, rid); err != nil {
		t.Fatal(err)
	}
	if n := outboxRows(t, a); n != before+1 {
		t.Errorf("shortening an expiry wrote %d outbox rows; want 1", n-before)
	}
}

func TestWithoutRollingActivityDoesNotExtend(t *testing.T) {
	t.Parallel()
	rep, clk := setup(t, func(c *config.Config) { c.SessionTTL = time.Hour })
	user(t, rep.URL, 1, "alice")
	t0 := clk.Now()
	tok, id := testenv.NewSession(t, rep.URL, 1, false, "")
	clk.Advance(50 * time.Minute)
	wantStatus(t, "at 50m", auth(t, rep.URL, tok), http.StatusOK)
	flush(rep)
	if got := storedExpiry(t, rep, id); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("expiry moved to %v without rolling expiry", got)
	}
	clk.Advance(10 * time.Minute)
	wantStatus(t, "at 1h", auth(t, rep.URL, tok), http.StatusUnauthorized)
}

func TestIdleTimeoutWithRollingExpiry(t *testing.T) {
	t.Parallel()
	a, _, clk := twoReplicas(t, func(c *config.Config) {
		c.Rolling, c.IdleTimeout, c.SessionTTL, c.RememberMeTTL, c.AbsoluteTTL = true, 10*time.Minute, time.Hour, time.Hour, 24*time.Hour
	})
	user(t, a.URL, 1, "alice")
	tok, _ := testenv.NewSession(t, a.URL, 1, false, "")
	for range 24 { // two hours of a request every five minutes: rolling keeps it alive
		clk.Advance(5 * time.Minute)
		wantStatus(t, "active", auth(t, a.URL, tok), http.StatusOK)
		flush(a)
	}
	clk.Advance(10 * time.Minute)
	wantStatus(t, "idle though not expired", auth(t, a.URL, tok), http.StatusUnauthorized)
}
