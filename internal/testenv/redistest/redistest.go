// Package redistest gives tests a Redis of their own: a key prefix on the
// test Redis (New), throwaway servers, clusters and Sentinels, and TLS
// certificates. It imports no package of the gateway.
package redistest

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

// New returns the Redis URL and a key prefix of this test's own; keys
// under the prefix are deleted when the test ends.
func New(t testing.TB) (redisURL, prefix string) {
	t.Helper()
	redisURL, prefix = testdeps.RedisURL(t), testdeps.Name("sgwtest-")
	rdb := Client(t, redisURL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("testenv: Redis at %s: %v (start it, or set SESSIONGW_TEST_REDIS_URL)", redisURL, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return redisURL, prefix
}

// Client returns a go-redis client closed at the end of the test.
func Client(t testing.TB, redisURL string) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("testenv: redis URL: %v", err)
	}
	rdb := goredis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
