package push

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

// hub returns a hub on a hand-driven clock and heartbeat counter.
func hub(window time.Duration) (*Hub, *atomic.Uint64, *atomic.Bool, *time.Time) {
	var beats atomic.Uint64
	var trusted atomic.Bool
	trusted.Store(true)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := NewHub(window, beats.Load, trusted.Load)
	h.now = func() time.Time { return now }
	return h, &beats, &trusted, &now
}

// next returns the stream's next event, failing if there is none.
func next(t *testing.T, s *Stream) Event {
	t.Helper()
	select {
	case e := <-s.Events():
		return e
	default:
		t.Fatal("no event queued")
		return Event{}
	}
}

func none(t *testing.T, s *Stream) {
	t.Helper()
	select {
	case e := <-s.Events():
		t.Fatalf("unexpected event %+v", e)
	default:
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// trust makes s trusting: a ping answered by a later heartbeat.
func trust(t *testing.T, h *Hub, beats *atomic.Uint64, s *Stream, seq uint64) {
	t.Helper()
	h.Ping(s, seq)
	beats.Add(1)
	h.Heartbeat(beats.Load())
	if e := next(t, s); e.Kind != "pong" || e.Seq != seq {
		t.Fatalf("got %+v; want pong %d", e, seq)
	}
}

func TestPingIsAnsweredOnlyByALaterHeartbeat(t *testing.T) {
	h, beats, trusted, _ := hub(time.Minute)
	s := h.Open()
	beats.Store(5)
	h.Ping(s, 1)
	h.Heartbeat(5) // sent before the ping arrived: proves nothing
	none(t, s)
	if h.Waiting() {
		t.Error("a stream without a pong counts as trusting")
	}
	trusted.Store(false)
	beats.Store(6)
	h.Heartbeat(6) // the replica does not trust its own caches
	none(t, s)
	trusted.Store(true)
	beats.Store(7)
	h.Heartbeat(7)
	if e := next(t, s); e.Kind != "pong" || e.Seq != 1 {
		t.Fatalf("got %+v; want pong 1", e)
	}
	if !h.Waiting() {
		t.Error("a stream with a fresh pong is not trusting")
	}
}

func TestTrustLapsesAfterTheWindow(t *testing.T) {
	h, beats, _, now := hub(time.Second)
	s := h.Open()
	trust(t, h, beats, s, 1)
	*now = now.Add(999 * time.Millisecond)
	if !h.Waiting() {
		t.Error("trust lapsed inside the window")
	}
	*now = now.Add(time.Millisecond)
	if h.Waiting() {
		t.Error("trust outlived the window")
	}
	// An untrusting stream still hears invalidations but nothing waits on it.
	done := h.Invalidate([]session.Hash{{1}}, false)
	if !closed(done) {
		t.Error("an invalidation waited on a stream that no longer trusts its cache")
	}
	if e := next(t, s); e.Kind != "invalidate" {
		t.Errorf("got %+v; want the invalidation", e)
	}
}

func TestInvalidationWaitsForEveryTrustingStream(t *testing.T) {
	h, beats, _, _ := hub(time.Minute)
	a, b, idle := h.Open(), h.Open(), h.Open()
	trust(t, h, beats, a, 1)
	trust(t, h, beats, b, 1)
	done := h.Invalidate([]session.Hash{{7}}, false)
	ea, eb, ei := next(t, a), next(t, b), next(t, idle)
	if ea.Kind != "invalidate" || ea.ID == "" || ea.ID != eb.ID || ei.ID != ea.ID || ea.Hashes[0] != (session.Hash{7}) {
		t.Fatalf("events %+v %+v %+v", ea, eb, ei)
	}
	h.Ack(a, ea.ID)
	h.Ack(idle, ea.ID) // not needed; harmless
	h.Ack(b, "999")    // another id: ignored
	if closed(done) {
		t.Fatal("done before every trusting stream acknowledged")
	}
	h.Ack(b, eb.ID)
	if !closed(done) {
		t.Fatal("not done after every trusting stream acknowledged")
	}
}

func TestClosingAStreamReleasesWhatWaitsOnIt(t *testing.T) {
	h, beats, _, _ := hub(time.Minute)
	a := h.Open()
	trust(t, h, beats, a, 1)
	done := h.Invalidate(nil, true)
	if e := next(t, a); !e.All {
		t.Fatalf("got %+v; want an invalidation of everything", e)
	}
	h.Close(a)
	if !closed(done) || !closed(a.Closed()) {
		t.Fatal("closing the stream left the wait pending")
	}
}

func TestAStreamThatDoesNotAcknowledgeIsClosed(t *testing.T) {
	h, beats, _, _ := hub(50 * time.Millisecond)
	slow, quick := h.Open(), h.Open()
	trust(t, h, beats, slow, 1)
	trust(t, h, beats, quick, 1)
	done := h.Invalidate([]session.Hash{{3}}, false)
	h.Ack(quick, next(t, quick).ID)
	select {
	case <-slow.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("a stream that never acknowledged was kept")
	}
	// The wait is not released: the replica must not acknowledge on the bus
	// for a cache that may still hold the entry; the publisher's bounded
	// wait (equal to the window that cache trusts itself for) covers it.
	if closed(done) {
		t.Error("the wait was released by giving up on a stream")
	}
	select {
	case <-quick.Closed():
		t.Error("the stream that acknowledged was closed too")
	default:
	}
}

func TestASlowStreamIsClosedNotBlocking(t *testing.T) {
	h, _, _, _ := hub(time.Minute)
	s := h.Open()
	for range streamBuffer + 1 {
		h.Invalidate(nil, true)
	}
	if !closed(s.Closed()) {
		t.Fatal("a stream that fell a full buffer behind was kept")
	}
}

func TestFlushEndsTrust(t *testing.T) {
	h, beats, _, _ := hub(time.Minute)
	s := h.Open()
	trust(t, h, beats, s, 1)
	h.Ping(s, 2)
	h.Flush()
	if e := next(t, s); e.Kind != "flush" {
		t.Fatalf("got %+v; want flush", e)
	}
	if h.Waiting() {
		t.Error("a flushed stream still counts as trusting")
	}
	beats.Add(1)
	h.Heartbeat(beats.Load())
	none(t, s) // the ping from before the flush is forgotten
	h.CloseAll()
	if !closed(s.Closed()) {
		t.Error("CloseAll left a stream open")
	}
}
