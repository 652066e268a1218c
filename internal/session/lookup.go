package session

import (
	"context"
	"encoding/binary"
	"errors"
	"time"
)

// lookup is one coalesced read of a session that the in-process cache
// could not answer. Its steps, in order:
//
//  1. peek at the shared cache (when trusted): a fresh entry answers;
//  2. check the client's budget for store lookups (the rate limit);
//  3. take the fill lease, or find the entry another lookup just filled;
//  4. read the store (or, while it is down, a copy confirmed in the grace
//     period);
//  5. fill the caches, unless an invalidation happened since step 1
//     (the epoch moved) or took the lease.
//
// A miss takes its lease only once the budget allows a store lookup, so a
// flood of unknown tokens costs one Redis round trip each.
type lookup struct {
	h       Hash
	epoch   uint64 // s.epoch when the lookup began
	trusted bool   // the caches may be read and filled
	client  string // rate-limit key
	lease   Lease  // held after step 3, for the fill
	stale   bool   // the shared entry looked expired or idle
}

// key coalesces lookups of one session; the epoch is part of it, so a
// lookup that starts after an invalidation never joins one that started
// before it.
func (l *lookup) key() string {
	var kb [len(Hash{}) + 9]byte
	copy(kb[:], l.h[:])
	binary.LittleEndian.PutUint64(kb[len(l.h):], l.epoch)
	if !l.trusted {
		kb[len(kb)-1] = 1
	}
	return string(kb[:])
}

func (s *Service) lookup(ctx context.Context, l *lookup) (Restored, error) {
	if l.trusted && s.tombs.has(l.h) {
		l.trusted = false // its shared copy may outlive a dead origin: ask the store
	}
	if r, ok := s.peekShared(ctx, l); ok {
		return r, nil
	}
	if s.limiter != nil && !s.limiter.Allow(l.client) {
		return Restored{}, ErrRateLimited
	}
	if r, ok := s.takeLease(ctx, l); ok {
		return r, nil
	}
	r, err := s.readStore(ctx, l)
	if err != nil {
		return Restored{}, err
	}
	s.fill(ctx, l, r)
	return r, nil
}

// peekShared is step 1: one plain read of the shared cache.
func (s *Service) peekShared(ctx context.Context, l *lookup) (Restored, bool) {
	if !l.trusted {
		return Restored{}, false
	}
	r, ok, err := s.shared.Peek(ctx, l.h)
	switch {
	case err != nil:
		s.log.Debug("shared cache get failed; falling back to the store", "err", err)
		l.trusted = false
	case ok && s.fresh(r, s.now()):
		s.obs.CacheLookup(LayerShared, true)
		s.fillIfCurrent(s.local, s.localTTL, l.h, r, l.epoch)
		return r, true
	case ok:
		// Looks expired or idle, but the copy may predate a rolling
		// extension or recent activity: ask the store (no lease, so no
		// fill of the shared cache this time).
		l.stale = true
		s.obs.CacheLookup(LayerShared, false)
	default:
		s.obs.CacheLookup(LayerShared, false)
	}
	return Restored{}, false
}

// takeLease is step 3: the lease must be ours before the store is read; a
// fill that landed since the peek comes back instead.
func (s *Service) takeLease(ctx context.Context, l *lookup) (Restored, bool) {
	if !l.trusted || l.stale {
		return Restored{}, false
	}
	r, ok, lease, err := s.shared.Get(ctx, l.h)
	switch {
	case err != nil:
		s.log.Debug("shared cache lease failed; falling back to the store", "err", err)
		l.trusted = false
	case ok && s.fresh(r, s.now()):
		s.fillIfCurrent(s.local, s.localTTL, l.h, r, l.epoch)
		return r, true
	case ok:
	default:
		l.lease = lease
	}
	return Restored{}, false
}

// readStore is step 4. An unknown session spends the client's budget.
// While the store is unavailable, a copy confirmed within the grace period
// (and not invalidated since) stands in; check() still enforces its
// absolute expiry and the user's state.
func (s *Service) readStore(ctx context.Context, l *lookup) (Restored, error) {
	r, err := s.storeRestore(ctx, l.h)
	if s.limiter != nil && errors.Is(err, ErrUnauthenticated) {
		s.limiter.Failed(l.client)
	}
	if errors.Is(err, ErrUnavailable) && s.grace != nil {
		if g, ok := s.grace.Get(l.h); ok {
			s.obs.CacheLookup(LayerGrace, true)
			return g, nil
		}
	}
	if err != nil {
		return Restored{}, err
	}
	s.fillIfCurrent(s.grace, s.graceTTL, l.h, r, l.epoch)
	return r, nil
}

func (s *Service) storeRestore(ctx context.Context, h Hash) (Restored, error) {
	if s.storeSlots != nil {
		select {
		case s.storeSlots <- struct{}{}:
			defer func() { <-s.storeSlots }()
		case <-ctx.Done():
			return Restored{}, ErrUnavailable
		}
	}
	s.obs.StoreLookup()
	return s.store.Restore(ctx, h)
}

// fill is step 5: the shared cache under the lease, then the in-process
// cache. A refused or failed shared fill means the value may be stale, so
// no copy is kept anywhere.
func (s *Service) fill(ctx context.Context, l *lookup, r Restored) {
	if s.beforeFill != nil {
		s.beforeFill(l.h)
	}
	if !l.trusted || s.epoch.Load() != l.epoch {
		return
	}
	if ttl := min(s.cacheTTL, s.usableFor(r, s.now())); ttl > 0 && l.lease != "" {
		filled, err := s.shared.Fill(ctx, l.h, l.lease, r, ttl)
		if err != nil {
			s.log.Debug("shared cache fill failed", "err", err)
		}
		if !filled {
			if err == nil {
				s.obs.FillRefused()
			}
			return
		}
	}
	s.fillIfCurrent(s.local, s.localTTL, l.h, r, l.epoch)
}

// fillIfCurrent puts r in c for at most ttl, never past the session's
// expiry, unless an invalidation happened since the lookup began (epoch).
func (s *Service) fillIfCurrent(c LocalCache, ttl time.Duration, h Hash, r Restored, epoch uint64) {
	if c == nil {
		return
	}
	ttl = min(ttl, s.usableFor(r, s.now()))
	if ttl <= 0 || s.epoch.Load() != epoch {
		return
	}
	c.Set(h, r, ttl)
	// An invalidation that raced with the Set may have run before it:
	// undo the fill rather than keep a copy nobody will drop.
	if s.epoch.Load() != epoch {
		c.Delete([]Hash{h})
	}
}
