package session

import (
	"context"
	"fmt"
)

// Group commit of logouts. Concurrent logouts on a replica are gathered
// into one batch: one transaction deletes their sessions and writes their
// audit records and one outbox entry, then one propagation (one DEL, one
// PUBLISH, one round of acknowledgements) invalidates them all. Each
// logout still returns only after its delete committed and its
// invalidation was acknowledged, exactly as alone; what a batch shares is
// the fixed cost of a transaction, a NOTIFY and a publish.
//
// One batch is written at a time per replica; the logouts that arrive
// meanwhile form the next one (package groupcommit), so a lone logout
// waits for nobody and a busy replica's batches grow with its load.
// Propagations run in parallel with the next batch's write.

// maxLogoutBatch bounds a batch: the outbox NOTIFY carries up to 100
// hashes itself (more would make every replica read the entry back).
const maxLogoutBatch = 100

type logoutCall struct {
	ctx   context.Context // the request's: a batch runs under its first call's (tracing), never cancelled by it
	l     Logout
	found bool
	err   error
	done  chan struct{} // closed when the logout is committed and propagated, or failed
}

// logout deletes the session of l with whatever logouts are pending, and
// returns once it is committed and propagated (or failed), or ctx ends.
func (s *Service) logout(ctx context.Context, l Logout) (found bool, err error) {
	c := &logoutCall{ctx: ctx, l: l, done: make(chan struct{})}
	s.logouts.Add(c)
	select {
	case <-c.done:
		return c.found, c.err
	case <-ctx.Done():
		// The logout goes on without its caller, who learns no more than
		// from a store call cut short: unavailable (503), never a 500.
		return false, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

func (s *Service) writeLogoutBatch(batch []*logoutCall) {
	ls := make([]Logout, len(batch))
	for i, c := range batch {
		ls[i] = c.l
	}
	base := context.WithoutCancel(batch[0].ctx)
	ctx, cancel := context.WithTimeout(base, s.storeTimeout)
	out, err := s.store.DeleteSessions(ctx, ls)
	cancel()
	if err != nil {
		for _, c := range batch {
			c.err = err
			close(c.done)
		}
		return
	}
	var hs []Hash
	seen := map[Hash]bool{}
	for i, c := range batch {
		c.found = out.Found[i]
		if c.found && !seen[c.l.Hash] {
			seen[c.l.Hash] = true
			hs = append(hs, c.l.Hash)
		}
	}
	// Nothing deleted, nothing cached: a session removed any other way was
	// invalidated by that change (or its outbox entry). Skipping keeps a
	// flood of unknown tokens from costing every replica a publish.
	go func() {
		if len(hs) > 0 {
			s.invalidateOwned(base, hs, out.Outbox)
		}
		for _, c := range batch {
			close(c.done)
		}
	}()
}
