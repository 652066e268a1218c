package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// invalidate runs after a change has committed in the store (whose triggers
// also wrote an outbox entry): drop our own copies synchronously, remove the
// shared entries and publish, waiting for every live replica's ack. When
// Redis cannot be reached the change still succeeds: the outbox relay
// retries, every replica also hears of it through Postgres NOTIFY, and we
// wait one trust window so that replicas cut off from Redis too have stopped
// trusting their caches before we return.
func (s *Service) invalidate(ctx context.Context, hs []Hash) { s.invalidateOwned(ctx, hs, 0) }

// invalidateOwned is invalidate for a change whose outbox entry (id owned,
// 0 for none) this replica propagates itself: once the entries are removed
// and published, it marks the entry done, so no relay repeats the work.
func (s *Service) invalidateOwned(ctx context.Context, hs []Hash, owned int64) {
	if len(hs) == 0 {
		return
	}
	s.dropLocal(hs)
	err := s.propagate(context.WithoutCancel(ctx), hs)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotAcknowledged):
		s.log.Warn("invalidation not acknowledged by every replica within the window", "sessions", len(hs))
	default:
		s.log.Warn("cache invalidation failed; the outbox relay will retry", "sessions", len(hs), "err", err)
		s.wakeRelayNow()
		select {
		case <-time.After(s.invalidationWait):
		case <-ctx.Done():
		}
		return
	}
	if owned != 0 && s.outbox != nil {
		s.propagated(owned)
	}
}

// propagated queues an owned outbox entry to be marked done: one UPDATE
// per replica every doneDelay at most. If it never happens (the UPDATE
// fails, the process dies), a relay repeats the entry after the settle
// time, which is harmless.
func (s *Service) propagated(id int64) {
	s.doneMu.Lock()
	defer s.doneMu.Unlock()
	s.done = append(s.done, id)
	if len(s.done) == 1 {
		time.AfterFunc(doneDelay, s.flushDone)
	}
}

const doneDelay = 20 * time.Millisecond

func (s *Service) flushDone() {
	s.doneMu.Lock()
	ids := s.done
	s.done = nil
	s.doneMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.outbox.MarkOutboxDone(ctx, ids); err != nil {
		s.log.Debug("outbox: marking propagated entries done failed; the relay will repeat them", "entries", len(ids), "err", err)
	}
}

// settle is how long the relays leave an owned outbox entry to its
// origin: longer than its propagation may take (bounded by
// invalidationWait + 2s) and the marking after it.
func (s *Service) settle() time.Duration { return s.invalidationWait + 3*time.Second }

// propagate removes shared entries and publishes; ErrNotAcknowledged
// means both happened but some replica did not confirm in time.
func (s *Service) propagate(ctx context.Context, hs []Hash) error {
	ctx, cancel := context.WithTimeout(ctx, s.invalidationWait+2*time.Second)
	defer cancel()
	if err := s.shared.Delete(ctx, hs); err != nil {
		return err
	}
	err := s.bus.Publish(ctx, hs)
	if err == nil || errors.Is(err, ErrNotAcknowledged) {
		s.obs.InvalidationsPublished(len(hs))
	}
	return err
}

func (s *Service) dropLocal(hs []Hash) {
	s.epoch.Add(1)
	if s.local != nil {
		s.local.Delete(hs)
	}
	if s.grace != nil {
		s.grace.Delete(hs)
	}
}

// HandleInvalidation drops in-process copies named by another replica.
func (s *Service) HandleInvalidation(hs []Hash) {
	s.obs.InvalidationsReceived(len(hs))
	s.dropLocal(hs)
}

// HandleFlush drops every in-process copy.
func (s *Service) HandleFlush() {
	s.epoch.Add(1)
	if s.local != nil {
		s.local.Clear()
	}
	if s.grace != nil {
		s.grace.Clear()
	}
}

// HandleSubscriptionReset drops every in-process copy: invalidations sent
// while the subscription was down are lost, since pub/sub does not replay.
func (s *Service) HandleSubscriptionReset() {
	s.obs.SubscriptionReset()
	s.HandleFlush()
}

// HandleNotify handles a Postgres NOTIFY of an outbox entry: the second,
// independent path by which a replica hears of an invalidation. An owned
// entry's hashes are also kept from being served from the shared cache
// until the relays would have removed them, should their origin have died
// between its commit and its DEL.
func (s *Service) HandleNotify(ctx context.Context, n Notice) {
	if !n.Owned {
		s.WakeRelay()
	}
	if s.outbox == nil {
		return
	}
	var inv Invalidation
	var err error
	if n.Carried != nil {
		inv = *n.Carried
	} else {
		inv, err = s.outbox.OutboxEntry(ctx, n.ID)
	}
	if err != nil {
		// We cannot tell what changed: drop everything to be safe.
		s.log.Warn("outbox entry unreadable; flushing the in-process cache", "id", n.ID, "err", err)
		s.HandleFlush()
		if s.notified != nil {
			s.notified(Invalidation{All: true})
		}
		s.obs.OutboxNotified(false)
		return
	}
	if inv.All {
		s.HandleFlush()
	} else {
		if n.Owned {
			s.tombs.add(inv.Hashes, time.Now().Add(s.settle()+3*time.Second))
		}
		s.dropLocal(inv.Hashes)
	}
	if s.notified != nil {
		s.notified(inv)
	}
	s.obs.OutboxNotified(true)
}

// wakeRelayNow asks the relay loop to run now and to claim owned entries
// too: this replica failed to propagate its own.
func (s *Service) wakeRelayNow() {
	s.relayAll.Store(true)
	s.WakeRelay()
}

// WakeRelay asks the relay loop to run now.
func (s *Service) WakeRelay() {
	select {
	case s.relayWake <- struct{}{}:
	default:
	}
}

// relayBatch bounds one claim of outbox entries.
const relayBatch = 100

// RelayOutbox removes shared entries and publishes for every pending outbox
// entry it can claim, owned ones included, marking them done; it returns
// how many it relayed.
func (s *Service) RelayOutbox(ctx context.Context) (int, error) { return s.relayOutbox(ctx, 0) }

// relayOutbox is RelayOutbox leaving owned entries younger than settle to
// their origin.
func (s *Service) relayOutbox(ctx context.Context, settle time.Duration) (int, error) {
	total := 0
	for {
		n, err := s.outbox.ClaimOutbox(ctx, relayBatch, settle, func(batch []Invalidation) error {
			for _, inv := range batch {
				var err error
				if inv.All {
					if err = s.shared.DeleteAll(ctx); err == nil {
						err = s.bus.PublishAll(ctx)
					}
				} else {
					err = s.propagate(ctx, inv.Hashes)
				}
				if err != nil && !errors.Is(err, ErrNotAcknowledged) {
					return err
				}
			}
			return nil
		})
		total += n
		if n > 0 {
			s.obs.OutboxRelayed(n)
		}
		if err != nil {
			return total, fmt.Errorf("relay outbox: %w", err)
		}
		if n < relayBatch {
			return total, nil
		}
	}
}

// EnsureOutboxDrained relays what it can and fails unless no invalidation
// is pending anywhere: a replica checks this before trusting its caches
// again after an interruption.
func (s *Service) EnsureOutboxDrained(ctx context.Context) error {
	if s.outbox == nil {
		return nil
	}
	if _, err := s.RelayOutbox(ctx); err != nil {
		return err
	}
	n, err := s.outbox.OutboxBacklog(ctx)
	if err != nil {
		return fmt.Errorf("outbox backlog: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("outbox: %d invalidations still pending", n)
	}
	return nil
}

// RecoverCaches runs before a replica trusts its caches again after its
// subscription was interrupted or the Redis master changed: it drains the
// outbox, then re-applies every invalidation of the last cache TTL. Redis
// replicates asynchronously, so a failover or a restart from a snapshot
// can bring back entries whose deletion the old master had acknowledged;
// any entry older than the cache TTL has expired anyway.
func (s *Service) RecoverCaches(ctx context.Context) error {
	if err := s.EnsureOutboxDrained(ctx); err != nil {
		return err
	}
	if s.outbox == nil {
		return nil
	}
	recent, err := s.outbox.RecentInvalidations(ctx, s.cacheTTL+s.invalidationWait)
	if err != nil {
		return fmt.Errorf("recent invalidations: %w", err)
	}
	seen := map[Hash]bool{}
	var hs []Hash
	for _, inv := range recent {
		if inv.All {
			if err := s.shared.DeleteAll(ctx); err != nil {
				return err
			}
			continue
		}
		for _, h := range inv.Hashes {
			if !seen[h] {
				seen[h] = true
				hs = append(hs, h)
			}
		}
	}
	if len(hs) == 0 {
		return nil
	}
	// Replicas that trusted the new master before we did may have copied
	// an entry back into their process: tell them too.
	if err := s.propagate(ctx, hs); err != nil && !errors.Is(err, ErrNotAcknowledged) {
		return err
	}
	return nil
}

// RunRelay relays the outbox when woken (by NOTIFY or a failed
// invalidation) and every interval, until ctx ends, leaving owned entries
// to their origin for the settle time unless this replica failed to
// propagate its own; it purges entries done more than an hour ago.
func (s *Service) RunRelay(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	lastPurge := s.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.relayWake:
		}
		settle := s.settle()
		if s.relayAll.Swap(false) {
			settle = 0
		}
		if _, err := s.relayOutbox(ctx, settle); err != nil && ctx.Err() == nil {
			s.log.Debug("outbox relay", "err", err)
		}
		if now := s.now(); now.Sub(lastPurge) > 10*time.Minute {
			lastPurge = now
			if _, err := s.outbox.PurgeOutbox(ctx, s.now().Add(-time.Hour)); err != nil && ctx.Err() == nil {
				s.log.Warn("outbox purge", "err", err)
			}
		}
	}
}
