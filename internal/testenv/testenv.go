// Package testenv gives tests real, isolated dependencies: a Postgres schema
// and a Redis key prefix of their own, on the services named by
// SESSIONGW_TEST_DATABASE_URL / SESSIONGW_TEST_REDIS_URL, else on containers
// when a Docker engine answers, else on the local services; and whole
// gateways listening on 127.0.0.1:0.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/gateway"
)

// Default addresses of the local services.
const (
	DefaultDatabaseURL = "postgres://sessiongw:sessiongw@127.0.0.1:5432/sessiongw_test?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	// AdminToken is the admin token of gateways built by Config.
	AdminToken = "test-admin-token-0123456789"
)

func baseDatabaseURL(t testing.TB) string {
	t.Helper()
	if v := os.Getenv("SESSIONGW_TEST_DATABASE_URL"); v != "" {
		return v
	}
	if useContainers() {
		pg, _, err := startContainers()
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		return pg
	}
	return DefaultDatabaseURL
}

// RedisURL returns the Redis used by tests.
func RedisURL(t testing.TB) string {
	t.Helper()
	if v := os.Getenv("SESSIONGW_TEST_REDIS_URL"); v != "" {
		return v
	}
	if useContainers() {
		_, rd, err := startContainers()
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		return rd
	}
	return DefaultRedisURL
}

// Name returns a short random name with the given prefix.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Postgres creates an empty schema for this test and returns a database URL
// whose connections use it. The schema is dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	base := baseDatabaseURL(t)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("testenv: connect to Postgres at %s: %v (start it, or set SESSIONGW_TEST_DATABASE_URL)", base, err)
	}
	defer conn.Close(ctx)
	schema := Name("t_")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testenv: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("testenv: drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("testenv: drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testenv: database URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Redis returns the Redis URL and a key prefix of this test's own; keys
// under the prefix are deleted when the test ends.
func Redis(t testing.TB) (redisURL, prefix string) {
	t.Helper()
	redisURL, prefix = RedisURL(t), Name("sgwtest-")
	rdb := Client(t, redisURL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("testenv: Redis at %s: %v (start it, or set SESSIONGW_TEST_REDIS_URL)", redisURL, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return redisURL, prefix
}

// Client returns a go-redis client closed at the end of the test.
func Client(t testing.TB, redisURL string) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("testenv: redis URL: %v", err)
	}
	rdb := goredis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// Config returns a valid configuration on a fresh schema and prefix.
func Config(t testing.TB) config.Config {
	t.Helper()
	redisURL, prefix := Redis(t)
	return config.Config{
		DatabaseURL: Postgres(t), RedisURL: redisURL, HTTPAddr: "127.0.0.1:0",
		AdminToken: AdminToken, CacheTTL: 5 * time.Minute, LocalCacheTTL: 5 * time.Second,
		LocalCacheSize: 10000, SessionTTL: 24 * time.Hour, RememberMeTTL: 720 * time.Hour,
		CookieName: "session_id", RedisPrefix: prefix, CleanupInterval: 0, AutoMigrate: true,
		InvalidationTimeout: time.Second, MaxDBLookups: 32, RateLimit: 0, ShutdownDrain: 200 * time.Millisecond,
		AuthHeaders: "sessiongw", NewDeviceWindow: 2160 * time.Hour,
		LogLevel: "debug", LogFormat: "json",
	}
}

// Replica is one gateway started by Start.
type Replica struct {
	URL     string
	Config  config.Config
	Gateway *gateway.Gateway
	Logs    *SyncBuffer
	stop    context.CancelFunc
	done    chan error
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

// Start runs a gateway for cfg on 127.0.0.1:0 until the test ends. It
// returns once the replica is subscribed to invalidations.
func Start(t testing.TB, cfg config.Config, o gateway.Options) *Replica {
	t.Helper()
	logs := &SyncBuffer{}
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
	r := &Replica{URL: "http://" + ln.Addr().String(), Config: cfg, Gateway: g, Logs: logs, stop: cancel, done: make(chan error, 1)}
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
	deadline := time.Now().Add(15 * time.Second)
	for !g.Trusted() {
		if time.Now().After(deadline) {
			t.Fatalf("testenv: replica never trusted its caches")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Contains reports whether sub was written.
func (s *SyncBuffer) Contains(sub string) bool { return strings.Contains(s.String(), sub) }
