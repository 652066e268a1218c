package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/redis"
	"github.com/sessiongw/sessiongw/internal/session"
)

func restored() session.Restored {
	at := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)
	return session.Restored{
		Session: session.Session{ID: "b78e32c8-1c73-4b34-b244-ba6ed8fb239b", UserID: "auth0|42", CreatedAt: at,
			ExpiresAt: at.Add(24 * time.Hour), LastActivityAt: at.Add(time.Minute), IPAddress: "10.0.0.1",
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", RememberMe: true, NewDevice: true, LastIPAddress: "10.0.0.2",
			AuthenticatedAt: at.Add(-time.Hour), AMR: []string{"pwd", "otp"}, Kind: session.KindSession},
		User: session.User{ID: "auth0|42", Username: "alice", Email: "alice@example.com", IsActive: true, Roles: []string{"admin", "dev"}},
	}
}

func setup(t *testing.T) (*miniredis.Miniredis, *redis.Cache) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	return mr, redis.NewCache(rdb, "p", nil)
}

var h1 = session.Token("3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c").Hash()

func TestLeasedFill(t *testing.T) {
	t.Parallel()
	mr, c := setup(t)
	ctx := context.Background()

	_, found, lease, err := c.Get(ctx, h1)
	if found || lease == "" || err != nil {
		t.Fatalf("first Get = found %v, lease %q, %v; want a miss with a lease", found, lease, err)
	}
	if _, _, other, _ := c.Get(ctx, h1); other != "" {
		t.Errorf("second Get while the lease is held got lease %q; want none", other)
	}
	ok, err := c.Fill(ctx, h1, lease, restored(), 5*time.Minute)
	if !ok || err != nil {
		t.Fatalf("Fill with the lease = %v, %v; want installed", ok, err)
	}
	if ttl := mr.TTL(redis.Key("p", h1)); ttl != 5*time.Minute {
		t.Errorf("TTL = %v; want 5m", ttl)
	}
	if mr.Exists(redis.LeaseKey("p", h1)) {
		t.Error("the lease outlived the fill")
	}
	if r, found, _, err := c.Get(ctx, h1); !found || err != nil || r.User.Username != "alice" {
		t.Fatalf("Get after Fill = %v, %v", found, err)
	}
	mr.FastForward(5*time.Minute + time.Second)
	if _, found, _, _ := c.Get(ctx, h1); found {
		t.Error("entry outlived its TTL")
	}
}

func TestFillRefusedAfterDelete(t *testing.T) {
	t.Parallel()
	mr, c := setup(t)
	ctx := context.Background()
	_, _, lease, _ := c.Get(ctx, h1)
	if err := c.Delete(ctx, []session.Hash{h1}); err != nil { // a revocation between read and fill
		t.Fatal(err)
	}
	if ok, err := c.Fill(ctx, h1, lease, restored(), time.Minute); ok || err != nil {
		t.Errorf("Fill after Delete = %v, %v; want refused", ok, err)
	}
	if mr.Exists(redis.Key("p", h1)) {
		t.Error("a stale entry was installed")
	}
	// A lease lost otherwise (evicted, Redis restarted) also refuses.
	_, _, lease, _ = c.Get(ctx, h1)
	mr.FlushAll()
	if ok, _ := c.Fill(ctx, h1, lease, restored(), time.Minute); ok {
		t.Error("Fill with a lost lease was installed")
	}
	if ok, _ := c.Fill(ctx, h1, "", restored(), time.Minute); ok {
		t.Error("Fill without a lease was installed")
	}
}

func TestCorruptEntryIsAMiss(t *testing.T) {
	t.Parallel()
	mr, c := setup(t)
	mr.Set(redis.Key("p", h1), "{not json")
	if _, found, _, err := c.Get(context.Background(), h1); found || err != nil {
		t.Errorf("Get(corrupt) = %v, %v; want a miss", found, err)
	}
	if mr.Exists(redis.Key("p", h1)) {
		t.Error("corrupt entry was not removed")
	}
}

func TestBreakerOpensAndErrorsAreNotMisses(t *testing.T) {
	t.Parallel()
	mr, c := setup(t)
	mr.Close()
	for range 3 {
		if _, found, _, err := c.Get(context.Background(), h1); found || err == nil {
			t.Fatalf("Get with Redis down = %v, %v; want an error", found, err)
		}
	}
	_, _, _, err := c.Get(context.Background(), h1)
	if err == nil || !isBreakerOpen(err) {
		t.Errorf("Get after repeated failures = %v; want the breaker open", err)
	}
}

func isBreakerOpen(err error) bool {
	for e := err; e != nil; {
		if e == redis.ErrBreakerOpen {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

func TestPeekTakesNoLease(t *testing.T) {
	t.Parallel()
	mr, c := setup(t)
	ctx := context.Background()
	if _, found, err := c.Peek(ctx, h1); found || err != nil {
		t.Fatalf("Peek of a missing entry = %v, %v", found, err)
	}
	if mr.Exists(redis.LeaseKey("p", h1)) {
		t.Errorf("Peek took a lease")
	}
	_, _, lease, _ := c.Get(ctx, h1)
	if ok, err := c.Fill(ctx, h1, lease, restored(), time.Minute); !ok || err != nil {
		t.Fatalf("Fill = %v, %v", ok, err)
	}
	if r, found, err := c.Peek(ctx, h1); !found || err != nil || r.User.Username != "alice" {
		t.Errorf("Peek after the fill = %+v, %v, %v", r.User, found, err)
	}
	mr.Set(redis.Key("p", h1), "garbage")
	if _, found, err := c.Peek(ctx, h1); found || err != nil || mr.Exists(redis.Key("p", h1)) {
		t.Errorf("Peek of an undecodable entry: found %v, %v, still there %v; want a miss that removes it", found, err, mr.Exists(redis.Key("p", h1)))
	}
}
