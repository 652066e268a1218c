package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

// BenchmarkAuthWarmHit is the hot path through the router: token parse,
// in-process cache hit, header write. Compare with BenchmarkEchoCeiling
// (same five headers, nothing else) for what sessiongw adds.
func BenchmarkAuthWarmHit(b *testing.B) {
	cfg := testenv.Config(b)
	cfg.LogLevel = "info" // as in production: no per-request log line
	rep := testenv.Start(b, cfg, gateway.Options{})
	testenv.PutUser(b, rep.URL, 1, map[string]any{"username": "bench", "roles": []string{"user"}})
	tok, _ := testenv.NewSession(b, rep.URL, 1, false, "")
	h := rep.Gateway.Handler()
	req := httptest.NewRequest(http.MethodGet, "/v1/auth", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req) // warm
	if rec.Code != http.StatusOK {
		b.Fatalf("warm-up: %d", rec.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}

// BenchmarkAuthWarmHitWithRequirements is the warm hit with a role and a
// freshness check in the query: what parsing them costs (no round trip).
func BenchmarkAuthWarmHitWithRequirements(b *testing.B) {
	cfg := testenv.Config(b)
	cfg.LogLevel = "info"
	rep := testenv.Start(b, cfg, gateway.Options{})
	testenv.PutUser(b, rep.URL, 1, map[string]any{"username": "bench", "roles": []string{"user"}})
	tok, _ := testenv.NewSession(b, rep.URL, 1, false, "")
	h := rep.Gateway.Handler()
	req := httptest.NewRequest(http.MethodGet, "/v1/auth?roles=user,admin&max_age=3600", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("warm-up: %d", rec.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}

// BenchmarkEchoCeiling is a bare Echo handler setting the same headers.
func BenchmarkEchoCeiling(b *testing.B) {
	e := echo.New()
	e.Any("/v1/auth", func(c echo.Context) error {
		h := c.Response().Header()
		h["Cache-Control"] = []string{"no-store"}
		h["X-Auth-User-Id"] = []string{"1"}
		h["X-Auth-Username"] = []string{"bench"}
		h["X-Auth-Email"] = []string{""}
		h["X-Auth-Roles"] = []string{"user"}
		h["X-Auth-Session-Id"] = []string{"305a3c16-043e-46cc-8f0a-69f4ec4d1904"}
		h["X-Auth-Authenticated-At"] = []string{"2026-12-03T06:00:00Z"}
		c.Response().WriteHeader(http.StatusOK)
		return nil
	})
	req := httptest.NewRequest(http.MethodGet, "/v1/auth", nil)
	req.Header.Set("Authorization", "Bearer 3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
	}
}
