// Package redis holds the cache shared by every replica and the pub/sub
// bus that carries invalidations, on go-redis.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Cache implements session.SharedCache. Keys are {prefix}:sess:{hex hash};
// values are a compact JSON encoding of the restored session and user.
type Cache struct {
	rdb    goredis.UniversalClient
	prefix string
}

var _ session.SharedCache = (*Cache)(nil)

// NewCache returns a Cache namespaced by prefix.
func NewCache(rdb goredis.UniversalClient, prefix string) *Cache {
	return &Cache{rdb: rdb, prefix: prefix}
}

// Key returns the Redis key of a session hash.
func Key(prefix string, h session.Hash) string { return prefix + ":sess:" + h.String() }

// entry is the wire form: short names keep a typical entry small.
type entry struct {
	ID       string   `json:"i"`
	UserID   int64    `json:"u"`
	Created  int64    `json:"c"` // Unix microseconds
	Expires  int64    `json:"e"`
	Activity int64    `json:"a"`
	IP       string   `json:"p,omitempty"`
	UA       string   `json:"g,omitempty"`
	Remember bool     `json:"r,omitempty"`
	Username string   `json:"n"`
	Email    string   `json:"m,omitempty"`
	Active   bool     `json:"x,omitempty"`
	Roles    []string `json:"o,omitempty"`
}

// Encode returns the cached form of r.
func Encode(r session.Restored) ([]byte, error) {
	s, u := r.Session, r.User
	return json.Marshal(entry{
		ID: s.ID, UserID: s.UserID,
		Created: s.CreatedAt.UnixMicro(), Expires: s.ExpiresAt.UnixMicro(), Activity: s.LastActivityAt.UnixMicro(),
		IP: s.IPAddress, UA: s.UserAgent, Remember: s.RememberMe,
		Username: u.Username, Email: u.Email, Active: u.IsActive, Roles: u.Roles,
	})
}

// Decode parses the cached form.
func Decode(b []byte) (session.Restored, error) {
	var e entry
	if err := json.Unmarshal(b, &e); err != nil {
		return session.Restored{}, err
	}
	if e.ID == "" || e.UserID == 0 || e.Expires == 0 {
		return session.Restored{}, errors.New("incomplete entry")
	}
	roles := e.Roles
	if roles == nil {
		roles = []string{}
	}
	return session.Restored{
		Session: session.Session{
			ID: e.ID, UserID: e.UserID,
			CreatedAt: time.UnixMicro(e.Created).UTC(), ExpiresAt: time.UnixMicro(e.Expires).UTC(),
			LastActivityAt: time.UnixMicro(e.Activity).UTC(),
			IPAddress:      e.IP, UserAgent: e.UA, RememberMe: e.Remember,
		},
		User: session.User{ID: e.UserID, Username: e.Username, Email: e.Email, IsActive: e.Active, Roles: roles},
	}, nil
}

// Get implements session.SharedCache. An entry that does not decode is
// treated as a miss and removed.
func (c *Cache) Get(ctx context.Context, h session.Hash) (session.Restored, bool, error) {
	key := Key(c.prefix, h)
	b, err := c.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return session.Restored{}, false, nil
	}
	if err != nil {
		return session.Restored{}, false, fmt.Errorf("redis: get: %w", err)
	}
	r, err := Decode(b)
	if err != nil {
		c.rdb.Del(ctx, key)
		return session.Restored{}, false, nil
	}
	return r, true, nil
}

// Set implements session.SharedCache.
func (c *Cache) Set(ctx context.Context, h session.Hash, r session.Restored, ttl time.Duration) error {
	b, err := Encode(r)
	if err != nil {
		return fmt.Errorf("redis: encode: %w", err)
	}
	if err := c.rdb.Set(ctx, Key(c.prefix, h), b, ttl).Err(); err != nil {
		return fmt.Errorf("redis: set: %w", err)
	}
	return nil
}

// Delete implements session.SharedCache. Keys are removed one per command in
// a pipeline, so it works the same on Redis Cluster.
func (c *Cache) Delete(ctx context.Context, hs []session.Hash) error {
	if len(hs) == 0 {
		return nil
	}
	_, err := c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, h := range hs {
			p.Del(ctx, Key(c.prefix, h))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: delete: %w", err)
	}
	return nil
}

// Ping reports whether Redis answers.
func (c *Cache) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// Connect parses a redis:// or rediss:// URL and checks that Redis answers.
// Unless the URL sets them (dial_timeout, read_timeout, write_timeout,
// max_retries), timeouts are short: a gateway that answers in microseconds
// should fall back to Postgres quickly rather than wait seconds on Redis.
func Connect(ctx context.Context, url string) (*goredis.Client, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, errors.New("redis: URL is not valid")
	}
	q := map[string]bool{}
	if i := strings.IndexByte(url, '?'); i >= 0 {
		for _, kv := range strings.Split(url[i+1:], "&") {
			k, _, _ := strings.Cut(kv, "=")
			q[k] = true
		}
	}
	if !q["dial_timeout"] {
		opt.DialTimeout = time.Second
	}
	if !q["read_timeout"] {
		opt.ReadTimeout = 500 * time.Millisecond
	}
	if !q["write_timeout"] {
		opt.WriteTimeout = 500 * time.Millisecond
	}
	if !q["max_retries"] {
		opt.MaxRetries = 1
	}
	rdb := goredis.NewClient(opt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis: connect: %w", err)
	}
	return rdb, nil
}
