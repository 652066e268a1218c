package httpapi

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

type recorded struct {
	route, method string
	status        int
}

type fakeRecorder struct {
	mu  sync.Mutex
	got []recorded
}

func (f *fakeRecorder) ObserveRequest(route, method string, status int, _ time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, recorded{route, method, status})
}

func TestAroundRecoversRecordsAndDrains(t *testing.T) {
	t.Parallel()
	rec := &fakeRecorder{}
	var draining atomic.Bool
	e := New(Config{Recorder: rec, Logger: slog.New(slog.DiscardHandler), Draining: draining.Load})
	e.GET("/boom", func(echo.Context) error { panic("boom") })

	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if w.Code != http.StatusInternalServerError || w.Header().Get("Connection") != "" {
		t.Errorf("panic: %d, Connection %q; want a 500 and a kept connection", w.Code, w.Header().Get("Connection"))
	}
	w = httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/nowhere", nil))
	draining.Store(true)
	w2 := httptest.NewRecorder()
	e.ServeHTTP(w2, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if w2.Code != http.StatusOK || w2.Header().Get("Connection") != "close" {
		t.Errorf("draining: %d, Connection %q; want 200 and close", w2.Code, w2.Header().Get("Connection"))
	}
	want := []recorded{{"/boom", "GET", 500}, {"unmatched", "GET", 404}, {"/healthz", "GET", 200}}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) != len(want) {
		t.Fatalf("recorded %v; want %v", rec.got, want)
	}
	for i := range want {
		if rec.got[i] != want[i] {
			t.Errorf("recorded[%d] = %v; want %v", i, rec.got[i], want[i])
		}
	}
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer // ServeHTTP runs on this goroutine
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := New(Config{Logger: log})
	do := func(id string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		if id != "" {
			r.Header.Set("X-Request-Id", id)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w
	}
	if w := do("req-abc-123"); w.Header().Get("X-Request-Id") != "req-abc-123" {
		t.Errorf("X-Request-Id not returned: %q", w.Header().Get("X-Request-Id"))
	}
	if !strings.Contains(logs.String(), `"request_id":"req-abc-123"`) {
		t.Errorf("the request line lacks the caller's request id: %s", logs.String())
	}
	logs.Reset()
	if w := do(""); w.Header().Get("X-Request-Id") != "" {
		t.Errorf("a request without an id got one back: %q", w.Header().Get("X-Request-Id"))
	}
	if !regexp.MustCompile(`"request_id":"[0-9a-f]{16}"`).MatchString(logs.String()) {
		t.Errorf("the request line lacks a generated request id: %s", logs.String())
	}
	logs.Reset()
	if w := do("bad id\twith spaces"); w.Header().Get("X-Request-Id") != "" {
		t.Errorf("an unsafe request id was returned")
	}
	if strings.Contains(logs.String(), "bad id") {
		t.Errorf("an unsafe request id reached the log: %s", logs.String())
	}
}

// TestMetricLabelsAreBounded: made-up methods and paths must not create a
// series each (they did: 22,000 requests made 22,000 series).
func TestMetricLabelsAreBounded(t *testing.T) {
	t.Parallel()
	rec := &fakeRecorder{}
	e := New(Config{Recorder: rec, Logger: slog.New(slog.DiscardHandler)})
	for i := range 3000 {
		method := fmt.Sprintf("M%06dXXX", i)
		path := fmt.Sprintf("/v1/x%d/%d", i, i)
		if i%3 == 0 {
			path = fmt.Sprintf("/v1/session/all/%d", i)
		}
		if i%5 == 0 {
			path = fmt.Sprintf("/v1/admin/made-up-%d", i)
		}
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	series := map[recorded]bool{}
	rec.mu.Lock()
	for _, r := range rec.got {
		series[r] = true
		if r.method != "other" && r.method != http.MethodGet {
			t.Errorf("method label %q from a made-up method", r.method)
		}
	}
	rec.mu.Unlock()
	if len(series) > 20 {
		t.Errorf("6,000 requests with made-up methods and paths made %d (route, method, status) series; want a handful", len(series))
	}
}
