package redis_test

import (
	"context"
	"reflect"
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
		Session: session.Session{ID: "b78e32c8-1c73-4b34-b244-ba6ed8fb239b", UserID: 42, CreatedAt: at,
			ExpiresAt: at.Add(24 * time.Hour), LastActivityAt: at.Add(time.Minute), IPAddress: "10.0.0.1",
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", RememberMe: true},
		User: session.User{ID: 42, Username: "alice", Email: "alice@example.com", IsActive: true, Roles: []string{"admin", "dev"}},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, r := range []session.Restored{restored(), func() session.Restored {
		r := restored()
		r.User.IsActive, r.User.Roles, r.User.Email, r.Session.IPAddress = false, []string{}, "", ""
		return r
	}()} {
		b, err := redis.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := redis.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("Decode(Encode(r)) = %+v; want %+v", got, r)
		}
	}
}

func setup(t *testing.T) (*miniredis.Miniredis, *redis.Cache) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	return mr, redis.NewCache(rdb, "p")
}

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	mr, c := setup(t)
	ctx := context.Background()
	h := session.Token("3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c").Hash()
	if err := c.Set(ctx, h, restored(), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if ttl := mr.TTL(redis.Key("p", h)); ttl != 5*time.Minute {
		t.Errorf("TTL = %v; want 5m", ttl)
	}
	if _, ok, err := c.Get(ctx, h); !ok || err != nil {
		t.Fatalf("Get after Set = %v, %v; want a hit", ok, err)
	}
	mr.FastForward(5*time.Minute + time.Second)
	if _, ok, err := c.Get(ctx, h); ok || err != nil {
		t.Errorf("Get after TTL = %v, %v; want a miss", ok, err)
	}
}

func TestCacheDeleteAndCorruptEntry(t *testing.T) {
	t.Parallel()
	mr, c := setup(t)
	ctx := context.Background()
	h1 := session.Token("3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c").Hash()
	h2 := session.Token("0f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c").Hash()
	for _, h := range []session.Hash{h1, h2} {
		if err := c.Set(ctx, h, restored(), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete(ctx, []session.Hash{h1, h2}); err != nil {
		t.Fatal(err)
	}
	if len(mr.Keys()) != 0 {
		t.Errorf("keys after Delete = %v; want none", mr.Keys())
	}
	mr.Set(redis.Key("p", h1), "{not json")
	if _, ok, err := c.Get(ctx, h1); ok || err != nil {
		t.Errorf("Get(corrupt) = %v, %v; want a miss", ok, err)
	}
	if mr.Exists(redis.Key("p", h1)) {
		t.Error("corrupt entry was not removed")
	}
}

func TestCacheErrorIsNotAMiss(t *testing.T) {
	t.Parallel()
	mr, c := setup(t)
	mr.Close()
	_, ok, err := c.Get(context.Background(), session.Hash{})
	if ok || err == nil {
		t.Errorf("Get with Redis down = %v, %v; want an error", ok, err)
	}
}
