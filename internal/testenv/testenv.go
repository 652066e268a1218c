// Package testenv gives tests real, isolated dependencies: a Postgres schema
// and a Redis key prefix of their own, on the services named by
// SESSIONGW_TEST_DATABASE_URL / SESSIONGW_TEST_REDIS_URL, else on containers
// when a Docker engine answers, else on the local services; and whole
// gateways listening on 127.0.0.1:0.
package testenv

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv/contract"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
	"github.com/sessiongw/sessiongw/internal/testenv/redistest"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

// AdminToken is the admin token of gateways built by Config.
const AdminToken = "test-admin-token-0123456789"

// Config returns a valid configuration on a fresh schema and prefix.
func Config(t testing.TB) config.Config {
	t.Helper()
	redisURL, prefix := redistest.New(t)
	return config.Config{
		DatabaseURL: pgtest.New(t), RedisURL: redisURL, HTTPAddr: "127.0.0.1:0",
		AdminToken: AdminToken, CacheTTL: 5 * time.Minute, LocalCacheTTL: 5 * time.Minute,
		LocalCacheSize: 10000, SessionTTL: 24 * time.Hour, RememberMeTTL: 720 * time.Hour,
		CookieName: "session_id", CookieSecure: true, CookieSameSite: "lax", SessionLimitPolicy: "evict_oldest", RedisPrefix: prefix, CleanupInterval: 0, AutoMigrate: true,
		InvalidationTimeout: time.Second, MaxDBLookups: 32, RateLimit: 0, ShutdownDrain: 200 * time.Millisecond,
		AuthHeaders: "sessiongw", NewDeviceWindow: 2160 * time.Hour, AuditCheckpointInterval: time.Hour,
		LogLevel: "debug", LogFormat: "json",
	}
}

// Replica is one gateway started by Start.
type Replica struct {
	URL     string
	Config  config.Config
	Gateway *gateway.Gateway
	Logs    *testdeps.SyncBuffer
	// Contract checked every answer against api/openapi.yaml.
	Contract *contract.Checker
	stop     context.CancelFunc
	done     chan error
}

// Stop shuts the replica down and waits for it; safe to call twice.
func (r *Replica) Stop(t testing.TB) {
	t.Helper()
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("testenv: replica %s: %v", r.URL, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("testenv: replica %s did not stop", r.URL)
	}
}

// Start runs a gateway for cfg on 127.0.0.1:0 until the test ends: the one
// way tests start a replica (start several on one cfg for several replicas
// of one deployment). It returns once the replica is subscribed to
// invalidations and trusts its caches. Unlike `sessiongw serve`, activity
// is flushed every hour unless o says otherwise, so tests flush it when
// they mean to (Gateway().Batcher().Flush).
func Start(t testing.TB, cfg config.Config, o gateway.Options) *Replica {
	t.Helper()
	if o.ActivityInterval == 0 {
		o.ActivityInterval = time.Hour
	}
	// Every answer the test receives is held to the OpenAPI document.
	doc, err := contract.Load()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	checker := contract.NewChecker(doc)
	if o.WrapHandler == nil {
		o.WrapHandler = checker.Middleware
	}
	t.Cleanup(func() {
		for _, v := range checker.Violations() {
			t.Errorf("testenv: an answer breaks api/openapi.yaml: %s", v)
		}
	})
	logs := &testdeps.SyncBuffer{}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	ctx, cancel := context.WithCancel(context.Background())
	g, err := gateway.New(ctx, cfg, log, o)
	if err != nil {
		cancel()
		t.Fatalf("testenv: gateway: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		g.Close()
		t.Fatalf("testenv: listen: %v", err)
	}
	r := &Replica{URL: "http://" + ln.Addr().String(), Config: cfg, Gateway: g, Logs: logs, Contract: checker, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- g.Serve(ctx, ln) }()
	select {
	case <-g.Subscribed():
	case <-time.After(15 * time.Second):
		t.Fatalf("testenv: replica did not subscribe to invalidations")
	}
	WaitTrusted(t, g)
	t.Cleanup(func() { r.Stop(t) })
	return r
}

// WaitTrusted waits until the replica trusts its caches (it heard its own
// heartbeat and found the outbox drained).
func WaitTrusted(t testing.TB, g *gateway.Gateway) {
	t.Helper()
	testdeps.WaitFor(t, 15*time.Second, g.Trusted, "testenv: the replica never trusted its caches")
}

// Clock is an injected time source (gateway.Options.Now) that tests move
// by hand.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at the current time (microsecond precision, as
// Postgres stores it).
func NewClock() *Clock { return &Clock{t: time.Now().UTC().Truncate(time.Microsecond)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
