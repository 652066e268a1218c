package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/client"
)

const benchToken = "0b4f1c2e-8d3a-4b5c-9e6f-7a8b9c0d1e2f"

// ceiling answers like /v1/auth does for a valid session, at once.
func ceiling(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = []string{"no-store"}
		h["X-Auth-User-Id"] = []string{"1"}
		h["X-Auth-Username"] = []string{"user1"}
		h["X-Auth-Email"] = []string{"user1@example.com"}
		h["X-Auth-Roles"] = []string{"user"}
		h["X-Auth-Session-Id"] = []string{"305a3c16-043e-46cc-8f0a-69f4ec4d1904"}
		h["X-Auth-Authenticated-At"] = []string{"2026-12-03T06:00:00Z"}
		h["X-Auth-Token-Name"] = []string{""}
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkValidate is client.Validate without a near cache; compare it
// with BenchmarkRawGet, one plain GET of the same answer: the difference
// is what the client adds to its round trip.
func BenchmarkValidate(b *testing.B) {
	srv := ceiling(b)
	c, err := client.New(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Validate(ctx, benchToken); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawGet(b *testing.B) {
	srv := ceiling(b)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/auth", nil)
		req.Header.Set("Authorization", "Bearer "+benchToken)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Header.Get("X-Auth-User-Id") == "" {
			b.Fatal("no identity")
		}
	}
}
