package activity

import (
	"hash/maphash"
	"sync"
)

// recentSet maps a session id's 64-bit hash to a Unix-nanosecond time. It
// holds no pointers, so however many sessions it holds the garbage
// collector never scans it, and it is sharded so that concurrent requests
// rarely meet on a lock. Two ids with the same hash (odds about n²/2⁶⁵)
// would share a write window: at worst one session's last activity is
// recorded up to one gap late.
type recentSet struct {
	seed   maphash.Seed
	shards [64]recentShard
}

type recentShard struct {
	mu sync.RWMutex
	m  map[uint64]int64
	_  [40]byte // keep shards on separate cache lines
}

func (r *recentSet) init() {
	r.seed = maphash.MakeSeed()
	for i := range r.shards {
		r.shards[i].m = map[uint64]int64{}
	}
}

func (r *recentSet) key(id string) uint64 { return maphash.String(r.seed, id) }

func (r *recentSet) get(k uint64) (int64, bool) {
	sh := &r.shards[k%uint64(len(r.shards))]
	sh.mu.RLock()
	v, ok := sh.m[k]
	sh.mu.RUnlock()
	return v, ok
}

func (r *recentSet) put(k uint64, v int64) {
	sh := &r.shards[k%uint64(len(r.shards))]
	sh.mu.Lock()
	if v > sh.m[k] {
		sh.m[k] = v
	}
	sh.mu.Unlock()
}

// prune drops entries older than before.
func (r *recentSet) prune(before int64) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for k, v := range sh.m {
			if v < before {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}
