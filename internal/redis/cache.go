// Package redis holds the cache shared by every replica and the pub/sub
// bus that carries invalidations, on go-redis.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/sessioncodec"
)

// Cache implements session.SharedCache with leased fills: a lookup that
// misses takes a lease in the same round trip, and its fill is installed only
// while that lease is still there. A revocation deletes the entry and the
// lease, so a fill that read Postgres before the revocation cannot re-insert
// the old value; a lease lost to eviction or a Redis restart also refuses the
// fill (fail closed).
//
// Keys are {prefix}:sess:{<hash>} and {prefix}:lease:{<hash>}; the braces
// are a Redis Cluster hash tag, so a session's keys share a slot.
type Cache struct {
	rdb      goredis.UniversalClient
	prefix   string
	leaseTTL time.Duration
	leaseID  string
	leaseSeq atomic.Uint64
	breaker  *gobreaker.CircuitBreaker[any]
}

var _ session.SharedCache = (*Cache)(nil)

// ErrBreakerOpen is returned while the circuit breaker skips Redis.
var ErrBreakerOpen = errors.New("redis: circuit breaker open")

// NewCache returns a Cache namespaced by prefix. onBreaker, when non-nil, is
// told every breaker state change ("closed", "half-open", "open").
func NewCache(rdb goredis.UniversalClient, prefix string, onBreaker func(state string)) *Cache {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	c := &Cache{rdb: rdb, prefix: prefix, leaseTTL: 10 * time.Second, leaseID: hex.EncodeToString(b)}
	c.breaker = gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:    "redis",
		Timeout: time.Second,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= 3
		},
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			if onBreaker != nil {
				onBreaker(to.String())
			}
		},
	})
	return c
}

// Key returns the Redis key of a session's cached entry.
func Key(prefix string, h session.Hash) string { return hashKey(prefix, ":sess:{", h) }

// LeaseKey returns the Redis key of a session's fill lease.
func LeaseKey(prefix string, h session.Hash) string { return hashKey(prefix, ":lease:{", h) }

// hashKey builds prefix+kind+hex(h)+"}" with one allocation (the string).
func hashKey(prefix, kind string, h session.Hash) string {
	var buf [160]byte
	b := append(append(buf[:0], prefix...), kind...)
	b = hex.AppendEncode(b, h[:])
	return string(append(b, '}'))
}

// getScript returns the entry, or takes the lease (unless another lookup
// holds it) and returns 1 if it did, 0 if not.
var getScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`)

// fillScript installs the entry only while our lease is there.
var fillScript = goredis.NewScript(`
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0`)

func (c *Cache) do(fn func() (any, error)) (any, error) {
	v, err := c.breaker.Execute(fn)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return nil, ErrBreakerOpen
	}
	return v, err
}

// Peek implements session.SharedCache: one plain GET. An entry that does
// not decode is treated as a miss and removed.
func (c *Cache) Peek(ctx context.Context, h session.Hash) (session.Restored, bool, error) {
	key := Key(c.prefix, h)
	v, err := c.do(func() (any, error) {
		v, err := c.rdb.Get(ctx, key).Result()
		if errors.Is(err, goredis.Nil) {
			return nil, nil
		}
		return v, err
	})
	if err != nil {
		return session.Restored{}, false, fmt.Errorf("redis: get: %w", err)
	}
	if v == nil {
		return session.Restored{}, false, nil
	}
	return c.decode(ctx, key, v.(string))
}

// Get implements session.SharedCache: in one round trip, the entry, or the
// lease on a miss (unless another lookup holds it).
func (c *Cache) Get(ctx context.Context, h session.Hash) (session.Restored, bool, session.Lease, error) {
	key := Key(c.prefix, h)
	lease := c.leaseID + "-" + strconv.FormatUint(c.leaseSeq.Add(1), 36)
	v, err := c.do(func() (any, error) {
		return getScript.Run(ctx, c.rdb, []string{key, LeaseKey(c.prefix, h)}, lease, c.leaseTTL.Milliseconds()).Result()
	})
	if err != nil {
		return session.Restored{}, false, "", fmt.Errorf("redis: get: %w", err)
	}
	switch v := v.(type) {
	case string:
		r, ok, err := c.decode(ctx, key, v)
		return r, ok, "", err
	case int64:
		if v == 1 {
			return session.Restored{}, false, session.Lease(lease), nil
		}
		return session.Restored{}, false, "", nil
	}
	return session.Restored{}, false, "", fmt.Errorf("redis: get: unexpected reply %T", v)
}

// decode parses an entry; one that does not decode is removed and missed.
func (c *Cache) decode(ctx context.Context, key, v string) (session.Restored, bool, error) {
	r, err := sessioncodec.DecodeString(v)
	if err != nil {
		c.rdb.Del(ctx, key)
		return session.Restored{}, false, nil
	}
	return r, true, nil
}

// Fill implements session.SharedCache: it reports whether the entry was
// installed.
func (c *Cache) Fill(ctx context.Context, h session.Hash, lease session.Lease, r session.Restored, ttl time.Duration) (bool, error) {
	if lease == "" {
		return false, nil
	}
	b, err := sessioncodec.Encode(r)
	if err != nil {
		return false, fmt.Errorf("redis: encode: %w", err)
	}
	v, err := c.do(func() (any, error) {
		return fillScript.Run(ctx, c.rdb, []string{Key(c.prefix, h), LeaseKey(c.prefix, h)},
			string(lease), b, max(ttl.Milliseconds(), 1)).Int64()
	})
	if err != nil {
		return false, fmt.Errorf("redis: fill: %w", err)
	}
	return v.(int64) == 1, nil
}

// Delete implements session.SharedCache: entries and leases go together, so
// an in-flight fill of a deleted session is refused. One DEL per session in a
// pipeline (both keys share a slot, so this works on Redis Cluster).
func (c *Cache) Delete(ctx context.Context, hs []session.Hash) error {
	if len(hs) == 0 {
		return nil
	}
	_, err := c.do(func() (any, error) {
		return c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, h := range hs {
				p.Del(ctx, Key(c.prefix, h), LeaseKey(c.prefix, h))
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("redis: delete: %w", err)
	}
	return nil
}

// DeleteAll implements session.SharedCache: every entry and lease under the
// prefix (after a TRUNCATE of sessions), on every master of a cluster.
func (c *Cache) DeleteAll(ctx context.Context) error {
	del := func(ctx context.Context, node goredis.Cmdable) error {
		for _, pattern := range []string{c.prefix + ":sess:*", c.prefix + ":lease:*"} {
			iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				// One key per DEL: keys of different sessions live in
				// different cluster slots.
				if err := node.Del(ctx, iter.Val()).Err(); err != nil {
					return err
				}
			}
			if err := iter.Err(); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if cc, ok := c.rdb.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error { return del(ctx, node) })
	} else {
		err = del(ctx, c.rdb)
	}
	if err != nil {
		return fmt.Errorf("redis: delete all: %w", err)
	}
	return nil
}

// Ping reports whether Redis answers (bypassing the breaker).
func (c *Cache) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}
