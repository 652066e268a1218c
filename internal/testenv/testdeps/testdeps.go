// Package testdeps is what every test helper shares: where the test
// dependencies are (SESSIONGW_TEST_DATABASE_URL / SESSIONGW_TEST_REDIS_URL,
// else containers when a Docker engine answers, else the local services),
// unique names and ports, a buffer for concurrent writers, and polling.
// It imports no package of the gateway.
package testdeps

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Default addresses of the local services.
const (
	DefaultDatabaseURL = "postgres://sessiongw:sessiongw@127.0.0.1:5432/sessiongw_test?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// DatabaseURL returns the Postgres used by tests.
func DatabaseURL(t testing.TB) string {
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

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // handed out by FreePort in this test binary
)

// FreePort returns a loopback TCP port that was free a moment ago and that
// no other FreePort call of this test binary has returned (the kernel may
// hand the same ephemeral port out twice in a row).
func FreePort(t testing.TB) int {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		portsMu.Lock()
		taken := ports[port]
		ports[port] = true
		portsMu.Unlock()
		if !taken {
			return port
		}
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

// WaitFor polls cond every few milliseconds until it holds; when it still
// does not after timeout, the test fails with the message (format, args),
// which should say what did not happen.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: "+format, append([]any{timeout}, args...)...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
