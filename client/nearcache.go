package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// NearCache configures WithNearCache.
type NearCache struct {
	// Token is the gateway's SESSIONGW_NEAR_CACHE_TOKEN (required).
	Token string
	// Size bounds the sessions held (default 10,000; the oldest go first).
	Size int
	// TTL bounds how long an entry is kept (default 30s, at most 5m);
	// entries never outlive their session's expiry, and invalidations drop
	// them at once. Each miss is a validation at the gateway, which records
	// the session's activity: keep TTL under a minute with an idle timeout.
	TTL time.Duration
}

// WithNearCache answers repeated validations inside this process, with the
// gateway's guarantee: once a logout, revoke, eviction, rotation or
// deactivation has returned, no process using a near cache accepts that
// session. The client keeps one stream (POST /v1/invalidations) open to a
// gateway replica: invalidations arrive on it, in order with everything
// else the replica hears, and are acknowledged before the change that made
// them returns; the cache trusts its entries only while it hears the
// replica within the invalidation window (SESSIONGW_INVALIDATION_TIMEOUT).
// While it does not (the stream is down, the replica lost Redis), every
// validation goes to the gateway, as without a near cache. See
// docs/consistency.md.
//
// Session tokens are cached; API tokens are always validated at the
// gateway.
func WithNearCache(nc NearCache) Option {
	return func(c *Client) { o := nc; c.nearOp = &o }
}

type nearCache struct {
	c      *Client
	token  string
	size   int
	ttl    time.Duration
	stream *http.Client // no timeout: the stream lives long

	mu         sync.Mutex
	entries    map[[32]byte]nearEntry
	order      [][32]byte // insertion order, for eviction
	epoch      uint64     // bumped by every invalidation
	trustUntil time.Time
	window     time.Duration
	pings      map[uint64]time.Time
	nextPing   uint64
	hits       uint64
	lastErr    error // why the last stream ended

	wmu sync.Mutex
	w   io.Writer // the current stream's request body; nil between streams

	cancel context.CancelFunc
	done   chan struct{}
}

type nearEntry struct {
	id    Identity
	until time.Time
}

func startNearCache(c *Client, o NearCache) (*nearCache, error) {
	if len(o.Token) < 16 {
		return nil, errors.New("sessiongw: WithNearCache needs the gateway's SESSIONGW_NEAR_CACHE_TOKEN")
	}
	if o.Size <= 0 {
		o.Size = 10_000
	}
	switch {
	case o.TTL <= 0:
		o.TTL = 30 * time.Second
	case o.TTL > 5*time.Minute:
		o.TTL = 5 * time.Minute
	}
	tr := c.hc.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &nearCache{c: c, token: o.Token, size: o.Size, ttl: o.TTL, stream: &http.Client{Transport: tr},
		entries: map[[32]byte]nearEntry{}, pings: map[uint64]time.Time{}, cancel: cancel, done: make(chan struct{})}
	go n.run(ctx)
	return n, nil
}

func (n *nearCache) close() {
	n.cancel()
	<-n.done
}

// validate answers from the cache when it may, else at the gateway
// (filling the cache when nothing was invalidated meanwhile).
func (n *nearCache) validate(ctx context.Context, token string, src source, q Requirements) (Identity, error) {
	h := hashOf(token)
	now := time.Now()
	n.mu.Lock()
	trusted := now.Before(n.trustUntil)
	e, ok := n.entries[h]
	epoch := n.epoch
	if trusted && ok && now.Before(e.until) {
		n.hits++
		n.mu.Unlock()
		return e.id, q.check(e.id, now)
	}
	n.mu.Unlock()

	id, expires, err := n.fetch(ctx, token, src)
	var ge *Error
	if errors.As(err, &ge) && ge.Status == http.StatusUnauthorized && src == fromBearer {
		// Not a session: perhaps a named API token, which only the check
		// accepts (and which is not cached).
		return n.c.auth(ctx, token, src, q)
	}
	if err != nil {
		return Identity{}, err
	}
	n.put(h, id, expires, epoch)
	return id, q.check(id, time.Now())
}

// fetch reads the session and its user from the gateway.
func (n *nearCache) fetch(ctx context.Context, token string, src source) (Identity, time.Time, error) {
	var out struct {
		Session Session `json:"session"`
		User    User    `json:"user"`
	}
	if _, err := n.c.do(ctx, http.MethodGet, "/v1/session", nil, &out, func(r *http.Request) { n.c.credential(r, token, src) }); err != nil {
		return Identity{}, time.Time{}, err
	}
	s, u := out.Session, out.User
	return Identity{UserID: u.ID, Username: u.Username, Email: u.Email, Roles: u.Roles, SessionID: s.ID,
		AuthenticatedAt: s.AuthenticatedAt, AMR: s.AMR}, s.ExpiresAt, nil
}

func (n *nearCache) put(h [32]byte, id Identity, expires time.Time, epoch uint64) {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	// Only while trusted, and only if nothing was invalidated since the
	// lookup began: the answer may predate a revocation.
	if n.epoch != epoch || !now.Before(n.trustUntil) {
		return
	}
	until := now.Add(n.ttl)
	if expires.Before(until) {
		until = expires
	}
	if !now.Before(until) {
		return
	}
	if _, ok := n.entries[h]; !ok {
		n.order = append(n.order, h)
	}
	n.entries[h] = nearEntry{id: id, until: until}
	for len(n.entries) > n.size && len(n.order) > 0 {
		delete(n.entries, n.order[0])
		n.order = n.order[1:]
	}
	if len(n.order) > 2*n.size { // drop keys already gone
		kept := n.order[:0]
		for _, k := range n.order {
			if _, ok := n.entries[k]; ok {
				kept = append(kept, k)
			}
		}
		n.order = kept
	}
}

// drop forgets one entry (after this process logged it out).
func (n *nearCache) drop(h [32]byte) {
	n.mu.Lock()
	delete(n.entries, h)
	n.epoch++
	n.mu.Unlock()
}

// reset forgets everything and stops trusting until the next pong.
func (n *nearCache) reset() {
	n.mu.Lock()
	n.entries, n.order = map[[32]byte]nearEntry{}, nil
	n.epoch++
	n.trustUntil = time.Time{}
	n.pings = map[uint64]time.Time{}
	n.mu.Unlock()
}

// NearCacheStats says how the near cache is doing.
type NearCacheStats struct {
	Entries int
	Hits    uint64
	Trusted bool // it answers from its entries now
	// Err is why the last stream to the gateway ended (nil while one is
	// open): a wrong token is an *Error matching ErrUnauthenticated, a
	// gateway without SESSIONGW_NEAR_CACHE_TOKEN a 404.
	Err error
}

// NearCacheStats reports on the near cache (zero without one).
func (c *Client) NearCacheStats() NearCacheStats {
	if c.near == nil {
		return NearCacheStats{}
	}
	n := c.near
	n.mu.Lock()
	defer n.mu.Unlock()
	return NearCacheStats{Entries: len(n.entries), Hits: n.hits, Trusted: time.Now().Before(n.trustUntil), Err: n.lastErr}
}
