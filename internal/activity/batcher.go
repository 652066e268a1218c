// Package activity coalesces per-request activity into batched writes, so
// validation never costs a Postgres write per request.
package activity

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Writer writes a batch of activity updates.
type Writer interface {
	TouchSessions(ctx context.Context, ts []session.Touch) error
}

// Batcher implements session.ActivitySink. Each session is written at most
// once per MinGap (with the time of the first request of that window);
// pending updates are flushed every Interval and on Close.
type Batcher struct {
	w        Writer
	log      *slog.Logger
	interval time.Duration
	minGap   time.Duration
	onFlush  func(n int, err error)

	mu      sync.Mutex
	pending map[string]pendingTouch
	// recent holds, per session, when it was last scheduled for a write:
	// the request path checks it without the mutex, and almost every
	// request finds its session there and returns.
	recent recentSet
}

var _ session.ActivitySink = (*Batcher)(nil)

// New returns a Batcher. onFlush, when non-nil, is told each batch's size.
func New(w Writer, interval, minGap time.Duration, log *slog.Logger, onFlush func(n int, err error)) *Batcher {
	b := &Batcher{w: w, log: log, interval: interval, minGap: minGap, onFlush: onFlush, pending: map[string]pendingTouch{}}
	b.recent.init()
	return b
}

// pendingTouch is a session's activity waiting to be written.
type pendingTouch struct {
	at     time.Time
	client session.Client
}

// Touch implements session.ActivitySink.
func (b *Batcher) Touch(id string, at time.Time, c session.Client) {
	k, now := b.recent.key(id), at.UnixNano()
	if last, ok := b.recent.get(k); ok && now-last < int64(b.minGap) {
		return
	}
	c.UserAgent = session.TruncateUserAgent(c.UserAgent)
	b.mu.Lock()
	if prev, ok := b.pending[id]; !ok || at.After(prev.at) {
		b.pending[id] = pendingTouch{at: at, client: c}
	}
	b.mu.Unlock()
	b.recent.put(k, now)
}

// LastTouched implements session.ActivitySink: the start of the session's
// current write window on this replica (its latest activity is at least
// that recent).
func (b *Batcher) LastTouched(id string) (time.Time, bool) {
	v, ok := b.recent.get(b.recent.key(id))
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, v).UTC(), true
}

// Pending returns how many sessions wait to be written.
func (b *Batcher) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// Run flushes every interval until ctx ends; it does not flush on return
// (call Flush while the store is still open).
func (b *Batcher) Run(ctx context.Context) {
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.Flush(ctx)
		}
	}
}

// Flush writes pending updates now. Failed updates are put back (unless a
// newer one arrived meanwhile) for the next flush.
func (b *Batcher) Flush(ctx context.Context) {
	b.mu.Lock()
	if len(b.pending) == 0 {
		b.mu.Unlock()
		return
	}
	batch := make([]session.Touch, 0, len(b.pending))
	for id, p := range b.pending {
		batch = append(batch, session.Touch{SessionID: id, At: p.at, Client: p.client})
	}
	b.pending = map[string]pendingTouch{}
	b.mu.Unlock()

	err := b.w.TouchSessions(ctx, batch)
	if b.onFlush != nil {
		b.onFlush(len(batch), err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.log.Warn("activity flush failed; will retry", "sessions", len(batch), "err", err)
		for _, t := range batch {
			if prev, ok := b.pending[t.SessionID]; !ok || t.At.After(prev.at) {
				b.pending[t.SessionID] = pendingTouch{at: t.At, client: t.Client}
			}
		}
		return
	}
	var newest time.Time
	for _, t := range batch {
		if t.At.After(newest) {
			newest = t.At
		}
	}
	b.recent.prune(newest.UnixNano() - int64(b.minGap))
}
