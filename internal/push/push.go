// Package push carries invalidations from a gateway replica to the near
// caches of app processes (the Go client's WithNearCache) over streams, and
// folds those caches into the replicas' guarantee: once a change has
// returned, no near cache serves what it removed.
//
// The rules mirror the bus's (internal/redis):
//
//   - Order. A replica forwards every invalidation it hears on the bus to
//     every stream before it handles the next bus message.
//   - Acks. A replica acknowledges an invalidation on the bus only after
//     every trusting stream has acknowledged it; a publisher therefore
//     returns only once the near caches have dropped their copies, or after
//     its bounded wait, by when they have stopped trusting them.
//   - Trust. A near cache trusts its copies only until its ping's send time
//     plus the window, and only after the pong. The replica answers a ping
//     when it hears its own bus heartbeat that was sent after the ping
//     arrived: every invalidation published before the ping was sent was
//     ordered before that heartbeat, so it reached the stream before the
//     pong. A replica that does not trust its own caches answers no ping and
//     tells its streams to flush.
//
// A stream that fails to acknowledge within the window is closed: its near
// cache flushes and reconnects, and later changes do not wait on it.
package push

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Event is one message to a near cache.
type Event struct {
	Kind   string // "invalidate", "flush" or "pong"
	ID     string // invalidate: what to acknowledge
	Hashes []session.Hash
	All    bool   // invalidate: every entry
	Seq    uint64 // pong: the ping answered
}

// Hub is one replica's set of streams.
type Hub struct {
	window  time.Duration
	beats   func() uint64 // bus heartbeats sent so far
	trusted func() bool   // whether this replica trusts its caches
	now     func() time.Time

	mu      sync.Mutex
	streams map[*Stream]bool
	waits   map[string]*wait
	nextID  uint64
}

// Stream is one near cache's connection.
type Stream struct {
	ID     string
	events chan Event
	closed chan struct{}
	once   sync.Once
	// Guarded by the hub's mutex:
	lastPong time.Time
	pings    []ping
}

type ping struct {
	seq   uint64
	after uint64 // heartbeats sent when it arrived: a later one answers it
}

type wait struct {
	need map[*Stream]bool
	done chan struct{}
}

// streamBuffer bounds the events waiting for a slow stream; a stream that
// falls this far behind is closed.
const streamBuffer = 1024

// NewHub returns a Hub. window is the bus's trust window; beats reports the
// bus heartbeats sent so far, trusted whether the replica trusts its
// caches.
func NewHub(window time.Duration, beats func() uint64, trusted func() bool) *Hub {
	return &Hub{window: window, beats: beats, trusted: trusted, now: time.Now,
		streams: map[*Stream]bool{}, waits: map[string]*wait{}}
}

// Window is the trust window the near caches must use.
func (h *Hub) Window() time.Duration { return h.window }

// Open registers a new stream.
func (h *Hub) Open() *Stream {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	s := &Stream{ID: hex.EncodeToString(b), events: make(chan Event, streamBuffer), closed: make(chan struct{})}
	h.mu.Lock()
	h.streams[s] = true
	h.mu.Unlock()
	return s
}

// Events is what to send to the stream's near cache.
func (s *Stream) Events() <-chan Event { return s.events }

// Closed is closed when the hub gave up on the stream.
func (s *Stream) Closed() <-chan struct{} { return s.closed }

// Close unregisters s; waits stop needing it.
func (h *Hub) Close(s *Stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closeLocked(s)
}

func (h *Hub) closeLocked(s *Stream) {
	if !h.streams[s] {
		return
	}
	delete(h.streams, s)
	s.once.Do(func() { close(s.closed) })
	for id, w := range h.waits {
		if w.need[s] {
			delete(w.need, s)
			h.finishLocked(id, w)
		}
	}
}

// CloseAll closes every stream (shutdown).
func (h *Hub) CloseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.streams {
		h.closeLocked(s)
	}
}

// trustingLocked reports whether s may be serving from its cache: it got a
// pong within the window (its trust lasts at most until its ping's send
// time, which came before the pong, plus the window).
func (h *Hub) trustingLocked(s *Stream, now time.Time) bool {
	return !s.lastPong.IsZero() && now.Sub(s.lastPong) < h.window
}

// Waiting reports whether some stream may be serving from its cache, so an
// invalidation this replica publishes must wait for this replica's streams.
func (h *Hub) Waiting() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	for s := range h.streams {
		if h.trustingLocked(s, now) {
			return true
		}
	}
	return false
}

// Invalidate sends an invalidation (hs, or every entry with all) to every
// stream. The channel it returns is closed once every trusting stream has
// acknowledged it; when one does not within the window, that stream is
// closed and the channel never is (the replica then does not acknowledge
// on the bus, and the publisher's bounded wait covers it).
func (h *Hub) Invalidate(hs []session.Hash, all bool) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextID++
	id := strconv.FormatUint(h.nextID, 10)
	w := &wait{need: map[*Stream]bool{}, done: make(chan struct{})}
	now := h.now()
	for s := range h.streams {
		if !h.sendLocked(s, Event{Kind: "invalidate", ID: id, Hashes: hs, All: all}) {
			continue
		}
		if h.trustingLocked(s, now) {
			w.need[s] = true
		}
	}
	if len(w.need) == 0 {
		close(w.done)
		return w.done
	}
	h.waits[id] = w
	time.AfterFunc(h.window, func() { h.expire(id) })
	return w.done
}

// sendLocked queues e for s, closing a stream too slow to keep up.
func (h *Hub) sendLocked(s *Stream, e Event) bool {
	select {
	case s.events <- e:
		return true
	default:
		h.closeLocked(s)
		return false
	}
}

// expire gives up on the streams that did not acknowledge id in time.
func (h *Hub) expire(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.waits[id]
	if w == nil {
		return
	}
	delete(h.waits, id)
	for s := range w.need {
		h.closeLocked(s)
	}
}

// Ack records that s dropped what invalidation id named.
func (h *Hub) Ack(s *Stream, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.waits[id]
	if w == nil || !w.need[s] {
		return
	}
	delete(w.need, s)
	h.finishLocked(id, w)
}

func (h *Hub) finishLocked(id string, w *wait) {
	if len(w.need) == 0 {
		delete(h.waits, id)
		close(w.done)
	}
}

// Ping records a ping of s, to be answered by the next heartbeat this
// replica sends and hears (see the package doc).
func (h *Hub) Ping(s *Stream, seq uint64) {
	after := h.beats()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(s.pings) < 64 {
		s.pings = append(s.pings, ping{seq: seq, after: after})
	}
}

// Heartbeat is called when this replica hears its own bus heartbeat seq
// while it trusts its caches: pings that arrived before that heartbeat was
// sent are answered.
func (h *Hub) Heartbeat(seq uint64) {
	if !h.trusted() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	for s := range h.streams {
		kept := s.pings[:0]
		for _, p := range s.pings {
			if p.after >= seq {
				kept = append(kept, p)
				continue
			}
			if h.sendLocked(s, Event{Kind: "pong", Seq: p.seq}) {
				s.lastPong = now
			}
		}
		s.pings = kept
	}
}

// Flush tells every stream to drop everything: this replica stopped
// trusting its caches, and invalidations may have been missed.
func (h *Hub) Flush() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.streams {
		s.lastPong, s.pings = time.Time{}, nil
		h.sendLocked(s, Event{Kind: "flush"})
	}
}
