package session

import (
	"sync"
	"sync/atomic"
	"time"
)

// tombstones are hashes whose shared-cache copies this replica does not
// trust for a while: those of owned outbox entries it heard of through
// NOTIFY. Their origin removes the shared copies; if it died between its
// commit and that removal, the relays do it once the entry has settled,
// and until then a lookup of those hashes goes to the store.
type tombstones struct {
	n  atomic.Int64 // entries in m: the lookup path skips the lock at 0
	mu sync.Mutex
	m  map[Hash]time.Time
	q  []tombstone // in the order added, for pruning
}

type tombstone struct {
	h     Hash
	until time.Time
}

// add keeps hs until then (a monotonic time.Now reading plus a duration).
func (t *tombstones) add(hs []Hash, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[Hash]time.Time{}
	}
	now := time.Now()
	for len(t.q) > 0 && !now.Before(t.q[0].until) {
		if old := t.q[0]; t.m[old.h].Equal(old.until) {
			delete(t.m, old.h)
		}
		t.q = t.q[1:]
	}
	for _, h := range hs {
		t.m[h] = until
		t.q = append(t.q, tombstone{h, until})
	}
	t.n.Store(int64(len(t.m)))
}

// has tells whether h is kept from the shared cache now.
func (t *tombstones) has(h Hash) bool {
	if t.n.Load() == 0 {
		return false
	}
	t.mu.Lock()
	until, ok := t.m[h]
	t.mu.Unlock()
	return ok && time.Now().Before(until)
}
