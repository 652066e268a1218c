package activity

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

type fakeWriter struct {
	mu      sync.Mutex
	fail    bool
	batches [][]session.Touch
}

func (w *fakeWriter) TouchSessions(_ context.Context, ts []session.Touch) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return errors.New("store down")
	}
	w.batches = append(w.batches, ts)
	return nil
}

func (w *fakeWriter) written() map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]time.Time{}
	for _, b := range w.batches {
		for _, t := range b {
			out[t.SessionID] = t.At
		}
	}
	return out
}

func TestBatcherWritesEachSessionOncePerGap(t *testing.T) {
	t.Parallel()
	w := &fakeWriter{}
	b := New(w, time.Hour, time.Minute, slog.New(slog.DiscardHandler), nil)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 100 {
		b.Touch("a", t0.Add(time.Duration(i)*time.Millisecond), session.Client{})
	}
	b.Touch("b", t0, session.Client{})
	if n := b.Pending(); n != 2 {
		t.Fatalf("pending = %d; want 2 (100 touches of one session coalesced)", n)
	}
	b.Flush(context.Background())
	if got := w.written(); len(got) != 2 || !got["a"].Equal(t0) || !got["b"].Equal(t0) {
		t.Fatalf("written = %v; want a and b at %v", got, t0)
	}
	b.Touch("a", t0.Add(59*time.Second), session.Client{})
	if n := b.Pending(); n != 0 {
		t.Errorf("pending within the gap = %d; want 0", n)
	}
	b.Touch("a", t0.Add(61*time.Second), session.Client{})
	if n := b.Pending(); n != 1 {
		t.Errorf("pending after the gap = %d; want 1", n)
	}
}

func TestBatcherRetriesAFailedFlush(t *testing.T) {
	t.Parallel()
	w := &fakeWriter{fail: true}
	var flushed []error
	b := New(w, time.Hour, time.Minute, slog.New(slog.DiscardHandler), func(_ int, err error) { flushed = append(flushed, err) })
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	b.Touch("a", t0, session.Client{})
	b.Flush(context.Background())
	if n := b.Pending(); n != 1 || len(flushed) != 1 || flushed[0] == nil {
		t.Fatalf("after a failed flush: pending %d, flushes %v; want the update kept", n, flushed)
	}
	w.fail = false
	b.Flush(context.Background())
	if got := w.written(); !got["a"].Equal(t0) || b.Pending() != 0 {
		t.Errorf("after the retry: written %v, pending %d", got, b.Pending())
	}
}

func TestBatcherForgetsOldWindows(t *testing.T) {
	t.Parallel()
	w := &fakeWriter{}
	b := New(w, time.Hour, time.Minute, slog.New(slog.DiscardHandler), nil)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 1000 {
		b.Touch(string(rune('a'+i%26))+time.Duration(i).String(), t0, session.Client{})
	}
	b.Flush(context.Background())
	b.Touch("late", t0.Add(2*time.Minute), session.Client{})
	b.Flush(context.Background())
	n := 0
	for i := range b.recent.shards {
		n += len(b.recent.shards[i].m)
	}
	if n != 1 {
		t.Errorf("recent set holds %d sessions after their gap passed; want 1", n)
	}
}
