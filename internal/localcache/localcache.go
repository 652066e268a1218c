// Package localcache is the small in-process cache in front of Redis, on
// otter (bounded size, per-entry expiry).
package localcache

import (
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Cache implements session.LocalCache.
type Cache struct {
	c *otter.Cache[session.Hash, item]
}

type item struct {
	r   session.Restored
	ttl time.Duration
}

var _ session.LocalCache = (*Cache)(nil)

// New returns a cache holding at most maxEntries sessions.
func New(maxEntries int) *Cache {
	return &Cache{c: otter.Must(&otter.Options[session.Hash, item]{
		MaximumSize: maxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[session.Hash, item]) time.Duration {
			return e.Value.ttl
		}),
	})}
}

// Get implements session.LocalCache.
func (c *Cache) Get(h session.Hash) (session.Restored, bool) {
	it, ok := c.c.GetIfPresent(h)
	return it.r, ok
}

// Set implements session.LocalCache; the entry lives at most ttl.
func (c *Cache) Set(h session.Hash, r session.Restored, ttl time.Duration) {
	c.c.Set(h, item{r: r, ttl: ttl})
}

// Delete implements session.LocalCache.
func (c *Cache) Delete(hs []session.Hash) {
	for _, h := range hs {
		c.c.Invalidate(h)
	}
}

// Clear implements session.LocalCache.
func (c *Cache) Clear() { c.c.InvalidateAll() }

// Len returns an estimate of the number of entries.
func (c *Cache) Len() int { return c.c.EstimatedSize() }

// Close stops the cache's background goroutines.
func (c *Cache) Close() { c.c.StopAllGoroutines() }
