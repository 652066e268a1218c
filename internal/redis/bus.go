package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Bus carries invalidations between replicas over Redis pub/sub and decides
// whether this replica may trust its caches.
//
// Messages on {prefix}:invalidate are
//
//	i|<origin>|<msgid>|<hex hash>,<hex hash>,…   drop these sessions
//	i|<origin>|<msgid>|*                          drop every session
//	h|<origin>|<seq>                              heartbeat
//
// Raw tokens never travel. Every replica answers an invalidation with an ack
// on {prefix}:ack:<origin>. Every heartbeat also registers the replica in
// the sorted set {prefix}:replicas, scored with Redis's own clock, so the
// registry needs no agreement between the replicas' clocks. The braces are
// a Redis Cluster hash tag: the channels and the registry share one slot,
// and on a cluster the bus uses sharded pub/sub (SPUBLISH/SSUBSCRIBE), so
// every message and heartbeat passes through that slot's master in one
// order, as on a single server.
//
// Trust: a replica hears its own heartbeats on the same channel, in order
// with every invalidation. Hearing heartbeat n (sent at local time t_n)
// proves that every invalidation published before it was processed, so the
// replica trusts its caches until t_n + window. A publisher waits for acks
// from every replica registered within the window, and at most window after
// its PUBLISH returned: by then any replica that did not ack has stopped
// trusting its copies (its last heartbeat was sent before that PUBLISH).
//
// Redis replicates asynchronously: after a failover (Sentinel or Cluster)
// or a restart from a snapshot, deletions the old master acknowledged may
// be missing. Every heartbeat therefore also reads the run id of the
// master(s) it talks to; a change is handled like a lost subscription
// (copies dropped, trust suspended until Recover has passed), and Recover
// re-applies recent invalidations.
type Bus struct {
	rdb        goredis.UniversalClient
	prefix     string
	channel    string
	registry   string
	id         string
	window     time.Duration
	beat       time.Duration
	log        *slog.Logger
	recover    func(context.Context) error
	onAck      func(timedOut bool)
	downstream func() bool
	sharded    bool   // Redis Cluster: SPUBLISH / SSUBSCRIBE
	masters    string // run ids of the master(s) last seen, "" before the first look

	start      time.Time
	trustUntil atomic.Int64  // nanoseconds since start
	clean      atomic.Bool   // no interruption since the last recovery check
	resets     atomic.Uint64 // subscription resets so far
	recovering atomic.Bool
	hbSeq      atomic.Uint64
	heardAt    atomic.Int64 // nanoseconds since start: own heartbeat last heard, or (re)subscription
	deaf       chan struct{}
	msgSeq     atomic.Uint64

	mu      sync.Mutex
	hbSent  map[uint64]time.Duration
	waiters map[string]*waiter
}

type waiter struct {
	need map[string]bool
	done chan struct{}
}

var _ session.Publisher = (*Bus)(nil)

// BusOptions configures a Bus.
type BusOptions struct {
	Prefix string
	// Window bounds how long a publisher waits for acks and how long a
	// replica trusts its caches after its last heard heartbeat (default 1s).
	Window time.Duration
	// Recover runs after an interruption or a change of master, before the
	// caches are trusted again; it must make sure no invalidation is still
	// pending (drain the outbox) and re-apply recent ones a failover may
	// have lost. nil means nothing to check.
	Recover func(context.Context) error
	// OnAck, when non-nil, is told whether each waited publish timed out.
	OnAck  func(timedOut bool)
	Logger *slog.Logger
	// Downstream, when non-nil, reports whether this replica has caches
	// downstream (near caches) that must drop what it publishes before the
	// publish returns; the publisher then also waits for its own replica's
	// acknowledgement (see Handler.HandleInvalidation).
	Downstream func() bool
}

// maxHashesPerMessage bounds one message (65 bytes per hash).
const maxHashesPerMessage = 1000

// NewBus returns a Bus with a fresh random replica id.
func NewBus(rdb goredis.UniversalClient, o BusOptions) *Bus {
	if o.Window <= 0 {
		o.Window = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Bus{
		rdb: rdb, prefix: o.Prefix, channel: Channel(o.Prefix), registry: Registry(o.Prefix),
		id: hex.EncodeToString(b), window: o.Window, beat: o.Window / 4, log: o.Logger,
		recover: o.Recover, onAck: o.OnAck, downstream: o.Downstream, sharded: isCluster(rdb), start: time.Now(),
		hbSent: map[uint64]time.Duration{}, waiters: map[string]*waiter{}, deaf: make(chan struct{}, 1),
	}
}

// Channel returns the invalidation channel for prefix.
func Channel(prefix string) string { return "{" + prefix + "}:invalidate" }

// Registry returns the key of the replica registry for prefix.
func Registry(prefix string) string { return "{" + prefix + "}:replicas" }

func (b *Bus) ackChannel(origin string) string { return "{" + b.prefix + "}:ack:" + origin }

// publishCmd is the publish command of the bus's pub/sub flavour.
func (b *Bus) publishCmd() string {
	if b.sharded {
		return "SPUBLISH"
	}
	return "PUBLISH"
}

func (b *Bus) send(ctx context.Context, channel, msg string) error {
	if b.sharded {
		return b.rdb.SPublish(ctx, channel, msg).Err()
	}
	return b.rdb.Publish(ctx, channel, msg).Err()
}

// ID returns this replica's id.
func (b *Bus) ID() string { return b.id }

// HeartbeatsSent counts the heartbeats this replica has sent so far.
func (b *Bus) HeartbeatsSent() uint64 { return b.hbSeq.Load() }

// Resets counts the interruptions so far: resubscriptions and changes of
// master.
func (b *Bus) Resets() uint64 { return b.resets.Load() }

// Trusted reports whether this replica may serve from its caches now.
func (b *Bus) Trusted() bool {
	return b.clean.Load() && int64(time.Since(b.start)) < b.trustUntil.Load()
}

// heartbeatScript registers the replica with Redis's clock and publishes
// its heartbeat in one step; it also forgets long-gone replicas.
var heartbeatScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 600000)
redis.call('PEXPIRE', KEYS[1], 600000)
return redis.call(ARGV[3], KEYS[2], ARGV[2])`)

// liveScript lists replicas registered within ARGV[1] milliseconds.
var liveScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')`)

// Publish implements session.Publisher: it publishes the invalidation and
// waits for every live replica's ack (acks arrive through Run, which must be
// running), at most one window after PUBLISH
// returned (then it returns session.ErrNotAcknowledged).
func (b *Bus) Publish(ctx context.Context, hs []session.Hash) error {
	for len(hs) > 0 {
		n := min(len(hs), maxHashesPerMessage)
		var sb strings.Builder
		sb.Grow(n * 65)
		for i, h := range hs[:n] {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(h.String())
		}
		if err := b.publish(ctx, sb.String()); err != nil {
			return err
		}
		hs = hs[n:]
	}
	return nil
}

// PublishAll tells every replica to drop every in-process copy.
func (b *Bus) PublishAll(ctx context.Context) error { return b.publish(ctx, "*") }

func (b *Bus) publish(ctx context.Context, payload string) error {
	msgID := strconv.FormatUint(b.msgSeq.Add(1), 36)
	live, err := liveScript.Run(ctx, b.rdb, []string{b.registry}, b.window.Milliseconds()).StringSlice()
	if err != nil {
		return fmt.Errorf("redis: list replicas: %w", err)
	}
	w := &waiter{need: map[string]bool{}, done: make(chan struct{})}
	for _, id := range live {
		if id != b.id {
			w.need[id] = true
		}
	}
	if b.downstream != nil && b.downstream() {
		w.need[b.id] = true // our own near caches, acknowledged through Run
	}
	// Decide before publishing: acks may empty w.need (under b.mu) as soon
	// as the message is out.
	waiting := len(w.need) > 0
	if waiting {
		b.mu.Lock()
		b.waiters[msgID] = w
		b.mu.Unlock()
		defer func() {
			b.mu.Lock()
			delete(b.waiters, msgID)
			b.mu.Unlock()
		}()
	}
	msg := "i|" + b.id + "|" + msgID + "|" + payload
	if err := b.send(ctx, b.channel, msg); err != nil {
		return fmt.Errorf("redis: publish: %w", err)
	}
	if !waiting {
		return nil
	}
	timer := time.NewTimer(b.window)
	defer timer.Stop()
	select {
	case <-w.done:
		b.acked(false)
		return nil
	case <-timer.C:
		b.acked(true)
		return session.ErrNotAcknowledged
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Bus) acked(timedOut bool) {
	if b.onAck != nil {
		b.onAck(timedOut)
	}
}

func (b *Bus) handleAck(payload string) {
	msgID, replica, ok := strings.Cut(payload, "|")
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.waiters[msgID]
	if w == nil || !w.need[replica] {
		return
	}
	delete(w.need, replica)
	if len(w.need) == 0 {
		close(w.done)
	}
}
