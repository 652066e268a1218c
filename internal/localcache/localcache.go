// Package localcache is the in-process cache in front of Redis: decoded
// sessions on otter (bounded size, per-entry expiry) and, for a cache
// larger than HotMax, a compact tier behind them on fastcache, whose
// entries (the binary form of internal/sessioncodec) live in off-heap byte
// chunks the garbage collector never walks.
package localcache

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/maypok86/otter/v2"

	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/sessioncodec"
)

// HotMax bounds the decoded tier: a cache of up to HotMax sessions holds
// them all decoded (a hit costs a lookup and nothing else); a larger one
// keeps the HotMax most used decoded and every session compact (a hit
// there decodes it, about 200 bytes, and promotes it).
const HotMax = 100_000

// compactBytesPerEntry is the compact tier's budget per session: an entry
// takes its key, a 4-byte header, an 8-byte expiry and the encoded session
// (about 150–250 bytes), and the tier's FIFO chunks need headroom so that
// entries are not evicted before the configured count is reached.
const compactBytesPerEntry = 512

// Cache implements session.LocalCache.
type Cache struct {
	hot     *otter.Cache[session.Hash, item]
	compact *fastcache.Cache // nil when every entry fits the hot tier
	// mu orders promotions from the compact tier against deletes: a
	// Delete or Clear holds it (write) while it removes and counts itself
	// in deletes; a promotion reads deletes before reading the compact tier
	// and promotes only if it is unchanged, both under the read lock, so a
	// copy read before a delete is never made visible after it.
	mu      sync.RWMutex
	deletes uint64
	bufs    sync.Pool
	now     func() time.Time
}

type item struct {
	r   session.Restored
	ttl time.Duration
}

var _ session.LocalCache = (*Cache)(nil)

// New returns a cache holding at most maxEntries sessions.
func New(maxEntries int) *Cache { return NewSized(maxEntries, HotMax) }

// NewSized is New with a decoded tier of at most hotMax sessions (tests
// make it small to exercise the compact tier).
func NewSized(maxEntries, hotMax int) *Cache {
	c := &Cache{
		hot: otter.Must(&otter.Options[session.Hash, item]{
			MaximumSize: min(maxEntries, hotMax),
			ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[session.Hash, item]) time.Duration {
				return e.Value.ttl
			}),
		}),
		now:  time.Now,
		bufs: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }},
	}
	if maxEntries > hotMax {
		c.compact = fastcache.New(maxEntries * compactBytesPerEntry)
	}
	return c
}

// Get implements session.LocalCache.
func (c *Cache) Get(h session.Hash) (session.Restored, bool) {
	if it, ok := c.hot.GetIfPresent(h); ok {
		return it.r, true
	}
	if c.compact == nil {
		return session.Restored{}, false
	}
	c.mu.RLock()
	before := c.deletes
	c.mu.RUnlock()
	bp := c.bufs.Get().(*[]byte)
	defer c.bufs.Put(bp)
	v, ok := c.compact.HasGet((*bp)[:0], h[:])
	*bp = v
	if !ok || len(v) < 8 {
		return session.Restored{}, false
	}
	ttl := time.Unix(0, int64(binary.LittleEndian.Uint64(v))).Sub(c.now())
	if ttl <= 0 {
		return session.Restored{}, false
	}
	r, err := sessioncodec.Decode(v[8:])
	if err != nil {
		return session.Restored{}, false
	}
	// Promote it unless a delete started since the read began (it may
	// have missed the promoted copy). Either way the value read is an
	// answer from before that delete returned.
	c.mu.RLock()
	if c.deletes == before {
		r.Memo = new(session.Memo)
		c.hot.Set(h, item{r: r, ttl: ttl})
	}
	c.mu.RUnlock()
	return r, true
}

// Set implements session.LocalCache; the entry lives at most ttl. A
// decoded entry gets a session.Memo of its own (a compact one gets one when
// promoted).
func (c *Cache) Set(h session.Hash, r session.Restored, ttl time.Duration) {
	r.Memo = new(session.Memo)
	c.hot.Set(h, item{r: r, ttl: ttl})
	if c.compact == nil {
		return
	}
	enc, err := sessioncodec.Encode(r)
	if err != nil {
		return // not a cacheable form: the decoded tier alone holds it
	}
	v := make([]byte, 8, 8+len(enc))
	binary.LittleEndian.PutUint64(v, uint64(c.now().Add(ttl).UnixNano()))
	c.compact.Set(h[:], append(v, enc...))
}

// Delete implements session.LocalCache.
func (c *Cache) Delete(hs []session.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deletes++
	for _, h := range hs {
		if c.compact != nil {
			c.compact.Del(h[:])
		}
		c.hot.Invalidate(h)
	}
}

// Clear implements session.LocalCache.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deletes++
	if c.compact != nil {
		c.compact.Reset()
	}
	c.hot.InvalidateAll()
}

// Len returns an estimate of the number of entries (in the compact tier
// when there is one, since it holds every entry).
func (c *Cache) Len() int {
	if c.compact != nil {
		var s fastcache.Stats
		c.compact.UpdateStats(&s)
		return int(s.EntriesCount)
	}
	return c.hot.EstimatedSize()
}

// Close stops the cache's background goroutines and frees the compact
// tier's memory.
func (c *Cache) Close() {
	c.hot.StopAllGoroutines()
	if c.compact != nil {
		c.compact.Reset()
	}
}
