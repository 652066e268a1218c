package redis_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/redis"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

type recorder struct {
	mu     sync.Mutex
	hashes []session.Hash
	resets int
	wake   chan struct{}
}

func (r *recorder) HandleInvalidation(hs []session.Hash) {
	r.mu.Lock()
	r.hashes = append(r.hashes, hs...)
	r.mu.Unlock()
	r.wake <- struct{}{}
}

func (r *recorder) HandleSubscriptionReset() {
	r.mu.Lock()
	r.resets++
	r.mu.Unlock()
	r.wake <- struct{}{}
}

func (r *recorder) snapshot() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hashes), r.resets
}

func waitFor(t *testing.T, rec *recorder, cond func(hashes, resets int) bool) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if cond(rec.snapshot()) {
			return
		}
		select {
		case <-rec.wake:
		case <-deadline:
			h, r := rec.snapshot()
			t.Fatalf("timed out: %d hashes, %d resets", h, r)
		}
	}
}

// TestBusDeliversAndReportsResubscription runs against the real Redis: it
// kills the subscriber's own connection (by client id) and expects go-redis
// to resubscribe and the bus to report it.
func TestBusDeliversAndReportsResubscription(t *testing.T) {
	t.Parallel()
	url, prefix := testenv.Redis(t)
	opt, _ := goredis.ParseURL(url)
	opt.ClientName = testenv.Name("bus-")
	sub := goredis.NewClient(opt)
	defer sub.Close()
	pub := testenv.Client(t, url)

	rec := &recorder{wake: make(chan struct{}, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- redis.NewBus(sub, prefix, nil).Run(ctx, rec) }()
	waitFor(t, rec, func(_, resets int) bool { return resets == 1 })

	hs := make([]session.Hash, 2500) // spans several messages
	for i := range hs {
		hs[i][0], hs[i][1] = byte(i), byte(i>>8)
	}
	if err := redis.NewBus(pub, prefix, nil).Publish(ctx, hs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, rec, func(n, _ int) bool { return n == len(hs) })

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
	waitFor(t, rec, func(_, resets int) bool { return resets >= 2 })

	// Malformed messages are ignored, not delivered.
	pub.Publish(ctx, redis.Channel(prefix), "not-a-hash")
	if err := redis.NewBus(pub, prefix, nil).Publish(ctx, hs[:1]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, rec, func(n, _ int) bool { return n == len(hs)+1 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
