package localcache_test

import (
	"crypto/sha256"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sessiongw/sessiongw/internal/localcache"
	"github.com/sessiongw/sessiongw/internal/session"
)

func hash(i int) session.Hash { return sha256.Sum256(fmt.Appendf(nil, "token-%d", i)) }

func entry(i int) session.Restored {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	return session.Restored{
		Session: session.Session{ID: uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%d", i)).String(), UserID: fmt.Sprintf("user-%d", i),
			CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour), LastActivityAt: at, AuthenticatedAt: at,
			IPAddress: "192.0.2.7", LastIPAddress: "192.0.2.7", UserAgent: "Mozilla/5.0", AMR: []string{"pwd"}, Kind: session.KindSession},
		User: session.User{ID: fmt.Sprintf("user-%d", i), Username: fmt.Sprintf("u%d", i), IsActive: true, Roles: []string{"user"}},
	}
}

// sameEntry: got is want as cached, with the entry's memo.
func sameEntry(got, want session.Restored) bool {
	if got.Memo == nil {
		return false
	}
	got.Memo = nil
	return reflect.DeepEqual(got, want)
}

// Each entry has a memo of its own, which lives as long as the entry: a
// hit returns it, a new Set or a Delete drops what it held, and an entry
// promoted from the compact tier gets a fresh one.
func TestEntriesCarryTheirOwnMemo(t *testing.T) {
	t.Parallel()
	c := localcache.NewSized(10, 2) // entries beyond 2 live compact
	defer c.Close()
	c.Set(hash(1), entry(1), time.Hour)
	c.Set(hash(2), entry(2), time.Hour)
	a, _ := c.Get(hash(1))
	b, _ := c.Get(hash(2))
	if a.Memo == nil || b.Memo == nil || a.Memo == b.Memo {
		t.Fatalf("memos %p and %p: want one per entry", a.Memo, b.Memo)
	}
	a.Memo.Store("rendered")
	if again, _ := c.Get(hash(1)); again.Memo.Load() != "rendered" {
		t.Fatalf("a second hit's memo holds %v; want what the first stored", again.Memo.Load())
	}
	c.Set(hash(1), entry(1), time.Hour) // a refill
	if again, _ := c.Get(hash(1)); again.Memo.Load() != nil {
		t.Fatalf("a refilled entry's memo holds %v; want nothing", again.Memo.Load())
	}
	a, _ = c.Get(hash(1))
	a.Memo.Store("rendered")
	c.Delete([]session.Hash{hash(1)})
	c.Set(hash(1), entry(1), time.Hour)
	if again, _ := c.Get(hash(1)); again.Memo.Load() != nil {
		t.Fatalf("after Delete and Set the memo holds %v; want nothing", again.Memo.Load())
	}
	for i := 3; i <= 10; i++ { // push entries out of the hot tier
		c.Set(hash(i), entry(i), time.Hour)
	}
	for i := 1; i <= 10; i++ {
		got, ok := c.Get(hash(i))
		if !ok || !sameEntry(got, entry(i)) {
			t.Fatalf("entry %d: %+v, %v; want it with a memo, from either tier", i, got, ok)
		}
	}
}

// A cache larger than its hot tier serves every entry, from the compact
// tier when the hot one has evicted it, with the same contents; deletes,
// expiry and Clear apply to both tiers.
func TestCompactTierServesWhatTheHotTierEvicted(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	const n, hot = 2000, 50
	c := localcache.NewTiered(n, hot, clock)
	defer c.Close()
	for i := range n {
		c.Set(hash(i), entry(i), time.Hour)
	}
	for i := range n {
		got, ok := c.Get(hash(i))
		if !ok {
			t.Fatalf("entry %d of %d missing (hot tier holds %d)", i, n, hot)
		}
		if !sameEntry(got, entry(i)) {
			t.Fatalf("entry %d = %+v; want %+v with a memo", i, got, entry(i))
		}
	}
	if l := c.Len(); l != n {
		t.Errorf("Len = %d; want %d", l, n)
	}

	c.Delete([]session.Hash{hash(1), hash(1500)})
	for _, i := range []int{1, 1500} {
		if _, ok := c.Get(hash(i)); ok {
			t.Errorf("entry %d served after Delete", i)
		}
	}
	if _, ok := c.Get(hash(2)); !ok {
		t.Error("Delete removed another entry")
	}

	// Past their TTL, entries miss in both tiers (real clock: otter's).
	short := localcache.NewTiered(n, hot, time.Now)
	defer short.Close()
	for i := range n {
		short.Set(hash(i), entry(i), 50*time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	for i := range n {
		if _, ok := short.Get(hash(i)); ok {
			t.Fatalf("entry %d served past its TTL", i)
		}
	}

	for i := range n {
		c.Set(hash(i), entry(i), time.Hour)
	}
	c.Clear()
	for i := range n {
		if _, ok := c.Get(hash(i)); ok {
			t.Fatalf("entry %d served after Clear", i)
		}
	}
}

// A cache no larger than the hot tier has no compact tier at all.
func TestSmallCacheIsHotOnly(t *testing.T) {
	t.Parallel()
	c := localcache.New(100)
	defer c.Close()
	c.Set(hash(1), entry(1), time.Hour)
	if got, ok := c.Get(hash(1)); !ok || !sameEntry(got, entry(1)) {
		t.Errorf("Get = %+v, %v", got, ok)
	}
	c.Delete([]session.Hash{hash(1)})
	if _, ok := c.Get(hash(1)); ok {
		t.Error("served after Delete")
	}
}

// The guarantee the service builds on: once Delete returns, no Get returns
// the entry, even while other goroutines are promoting it from the compact
// tier to the hot one.
func TestDeleteWinsOverConcurrentPromotions(t *testing.T) {
	t.Parallel()
	const rounds, readers, hot = 300, 6, 4
	c := localcache.NewTiered(10_000, hot, time.Now)
	defer c.Close()
	stale := 0
	for round := range rounds {
		h := hash(round)
		c.Set(h, entry(round), time.Hour)
		// Push it out of the tiny hot tier so Gets promote it.
		for j := range hot * 4 {
			c.Set(hash(1_000_000+j), entry(j), time.Hour)
		}
		var wg sync.WaitGroup
		var deleted atomic.Bool
		var after atomic.Int64
		start := make(chan struct{})
		for range readers {
			wg.Go(func() {
				<-start
				for k := 0; k < 200; k++ {
					done := deleted.Load()
					if _, ok := c.Get(h); ok && done {
						after.Add(1)
					}
				}
			})
		}
		wg.Go(func() {
			<-start
			c.Delete([]session.Hash{h})
			deleted.Store(true)
		})
		close(start)
		wg.Wait()
		if _, ok := c.Get(h); ok {
			stale++
		}
		if n := after.Load(); n > 0 {
			t.Errorf("round %d: %d Gets after Delete returned served the entry", round, n)
		}
	}
	if stale > 0 {
		t.Errorf("%d of %d deleted entries were still cached after every Get finished", stale, rounds)
	}
}
