package redis_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/redis"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv/redistest"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

type recorder struct {
	mu      sync.Mutex
	hashes  []session.Hash
	resets  int
	flushes int
	beats   int
	wake    chan struct{}
	// downstream, when set, is what HandleInvalidation returns: the
	// replica's near caches confirming.
	downstream func() <-chan struct{}
}

func (r *recorder) bump() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) HandleInvalidation(hs []session.Hash) <-chan struct{} {
	r.mu.Lock()
	r.hashes = append(r.hashes, hs...)
	d := r.downstream
	r.mu.Unlock()
	r.bump()
	if d != nil {
		return d()
	}
	return nil
}

func (r *recorder) HandleFlush() <-chan struct{} {
	r.mu.Lock()
	r.flushes++
	r.mu.Unlock()
	r.bump()
	return nil
}

func (r *recorder) HandleHeartbeat(uint64) {
	r.mu.Lock()
	r.beats++
	r.mu.Unlock()
}

func (r *recorder) HandleSubscriptionReset() {
	r.mu.Lock()
	r.resets++
	r.mu.Unlock()
	r.bump()
}

func (r *recorder) snapshot() (hashes, resets, flushes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hashes), r.resets, r.flushes
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testdeps.WaitFor(t, 15*time.Second, cond, "timed out waiting for %s", what)
}

// TestBus runs against the real Redis: invalidations are delivered and
// acknowledged, trust follows the replica's own heartbeats, and a killed
// subscriber connection (ours only, found by client name) is reported and
// suspends trust until the next heartbeat.
func TestBus(t *testing.T) {
	t.Parallel()
	url, prefix := redistest.New(t)
	opt, _ := goredis.ParseURL(url)
	opt.ClientName = testdeps.Name("bus-")
	sub := goredis.NewClient(opt)
	defer sub.Close()
	pub := redistest.Client(t, url)

	rec := &recorder{wake: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subBus := redis.NewBus(sub, redis.BusOptions{Prefix: prefix, Window: 500 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- subBus.Run(ctx, rec) }()
	waitFor(t, "first subscription", func() bool { _, r, _ := rec.snapshot(); return r == 1 })
	waitFor(t, "trust", subBus.Trusted)

	var acks []bool
	var mu sync.Mutex
	pubBus := redis.NewBus(pub, redis.BusOptions{Prefix: prefix, Window: 5 * time.Second,
		OnAck: func(timedOut bool) { mu.Lock(); acks = append(acks, timedOut); mu.Unlock() }})
	pubRec := &recorder{wake: make(chan struct{}, 1)}
	go func() { _ = pubBus.Run(ctx, pubRec) }() // acks arrive on its subscription
	waitFor(t, "publisher trust", pubBus.Trusted)
	hs := make([]session.Hash, 2500) // spans several messages
	for i := range hs {
		hs[i][0], hs[i][1] = byte(i), byte(i>>8)
	}
	if err := pubBus.Publish(ctx, hs); err != nil {
		t.Fatalf("Publish = %v; want every live replica's ack", err)
	}
	// Publish returned after the acks: the subscriber already handled all.
	if n, _, _ := rec.snapshot(); n != len(hs) {
		t.Errorf("hashes handled when Publish returned = %d; want %d", n, len(hs))
	}
	mu.Lock()
	if len(acks) != 3 || acks[0] || acks[1] || acks[2] {
		t.Errorf("ack outcomes = %v; want three acked", acks)
	}
	mu.Unlock()
	if err := pubBus.PublishAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, f := rec.snapshot(); f != 1 {
		t.Errorf("flushes = %d; want 1", f)
	}

	// Kill only our subscriber connection.
	list, err := pub.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name="+opt.ClientName+" ") && strings.Contains(line, "cmd=subscribe") {
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "id="); ok {
					id = v
				}
			}
		}
	}
	if id == "" {
		t.Fatalf("subscriber connection not found in CLIENT LIST")
	}
	if err := pub.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "resubscription", func() bool { _, r, _ := rec.snapshot(); return r >= 2 })
	waitFor(t, "trust after resubscription", subBus.Trusted)

	// Malformed messages are ignored, not delivered.
	pub.Publish(ctx, redis.Channel(prefix), "not-a-message")
	pub.Publish(ctx, redis.Channel(prefix), "i|x|1|zz")
	if err := pubBus.Publish(ctx, hs[:1]); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := rec.snapshot(); n != len(hs)+1 {
		t.Errorf("hashes = %d; want %d", n, len(hs)+1)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestAckWaitsForDownstream: a replica acknowledges an invalidation only
// once its downstream caches (near caches) confirmed it; one that never
// confirms costs the publisher its window and an unacknowledged result.
func TestAckWaitsForDownstream(t *testing.T) {
	t.Parallel()
	url, prefix := redistest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gate := make(chan struct{})
	var never chan struct{}
	sub := &recorder{wake: make(chan struct{}, 1)}
	sub.downstream = func() <-chan struct{} {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		if never != nil {
			return never
		}
		return gate
	}
	subBus := redis.NewBus(redistest.Client(t, url), redis.BusOptions{Prefix: prefix, Window: 2 * time.Second})
	go func() { _ = subBus.Run(ctx, sub) }()
	pubBus := redis.NewBus(redistest.Client(t, url), redis.BusOptions{Prefix: prefix, Window: 2 * time.Second})
	go func() { _ = pubBus.Run(ctx, &recorder{wake: make(chan struct{}, 1)}) }()
	waitFor(t, "trust", func() bool { return subBus.Trusted() && pubBus.Trusted() })

	published := make(chan error, 1)
	go func() { published <- pubBus.Publish(ctx, []session.Hash{{9}}) }()
	waitFor(t, "delivery", func() bool { n, _, _ := sub.snapshot(); return n == 1 })
	select {
	case err := <-published:
		t.Fatalf("Publish returned (%v) before the downstream caches confirmed", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(gate)
	if err := <-published; err != nil {
		t.Errorf("Publish after the downstream confirmed = %v; want acknowledged", err)
	}

	sub.mu.Lock()
	never = make(chan struct{})
	sub.mu.Unlock()
	if err := pubBus.Publish(ctx, []session.Hash{{10}}); err != session.ErrNotAcknowledged {
		t.Errorf("Publish with a downstream that never confirms = %v; want ErrNotAcknowledged", err)
	}
}

// TestPublishWaitsAtMostTheWindow: a registered replica that never acks
// (its subscriber is gone) costs the publisher one window, then
// ErrNotAcknowledged.
func TestPublishWaitsAtMostTheWindow(t *testing.T) {
	t.Parallel()
	url, prefix := redistest.New(t)
	rdb := redistest.Client(t, url)
	ctx := context.Background()
	// A replica that registered a moment ago and then went silent.
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	rdb.ZAdd(ctx, redis.Registry(prefix), goredis.Z{Score: float64(now.UnixMilli()), Member: "ghost"})
	bus := redis.NewBus(rdb, redis.BusOptions{Prefix: prefix, Window: 300 * time.Millisecond})
	if err := bus.Publish(ctx, []session.Hash{{1}}); err != session.ErrNotAcknowledged {
		t.Errorf("Publish = %v; want ErrNotAcknowledged", err)
	}
}

// TestBusLeavesADeafSubscription mimics what go-redis does on a Sentinel
// failover: commands move to the new master while the open subscription
// stays on the old one, which is still up and hears nothing. The bus must
// notice that it no longer hears its own heartbeats, subscribe again (on
// the new server) and trust its caches only after that.
func TestBusLeavesADeafSubscription(t *testing.T) {
	t.Parallel()
	oldSrv, newSrv := redistest.StartServer(t), redistest.StartServer(t)
	var target atomic.Value
	target.Store(oldSrv.Addr())
	var d net.Dialer
	rdb := goredis.NewClient(&goredis.Options{
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, target.Load().(string))
		},
	})
	defer rdb.Close()
	prefix := testdeps.Name("deaf")
	rec := &recorder{wake: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bus := redis.NewBus(rdb, redis.BusOptions{Prefix: prefix, Window: 300 * time.Millisecond})
	go func() { _ = bus.Run(ctx, rec) }()
	waitFor(t, "trust", bus.Trusted)
	resets := bus.Resets()

	// The switch: new connections go to the new server, and the old
	// server drops our command connections (not the subscription).
	target.Store(newSrv.Addr())
	oldClient := redistest.Client(t, oldSrv.URL())
	if err := oldClient.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	newClient := redistest.Client(t, newSrv.URL())
	waitFor(t, "a subscription on the new server", func() bool {
		n, err := newClient.PubSubNumSub(ctx, redis.Channel(prefix)).Result()
		return err == nil && n[redis.Channel(prefix)] == 1
	})
	waitFor(t, "trust again", bus.Trusted)
	if bus.Resets() == resets {
		t.Error("the bus trusted its caches again without a reset")
	}
	if n, _ := oldClient.PubSubNumSub(ctx, redis.Channel(prefix)).Result(); n[redis.Channel(prefix)] != 0 {
		t.Errorf("the old subscription is still open: %v", n)
	}
}
