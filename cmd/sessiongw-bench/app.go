package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sessiongw/sessiongw/client"
	"github.com/sessiongw/sessiongw/internal/config"
)

// The Go client's rows: what an app pays for validating in its own
// process.

// benchNearCacheToken guards the near-cache stream of the gateway under
// test.
const benchNearCacheToken = "bench-near-cache-token-0123456789"

// appSessions is how many sessions the app rows spread their load over
// (the near cache holds them all).
const appSessions = 10_000

// okHandler is the app's page: 200 and two bytes.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header()["Content-Type"] = []string{"text/plain"}
	io.WriteString(w, "ok")
})

// appRows measures (1) client.Middleware with a warm near cache in front of
// okHandler against okHandler alone, and (2) an app handler calling
// Validate (no near cache) against one calling the same ceiling server with
// one raw GET: both pairs in the same process, under the same load.
func (b *bench) appRows(ctx context.Context) ([]row, error) {
	n := min(appSessions, b.rotation()) // the mix logged out sessions beyond
	tokens, err := b.tokenFile(n)
	if err != nil {
		return nil, err
	}
	gw, err := b.startGateway(ctx, DefaultLocalTTL, false, func(c *config.Config) { c.NearCacheToken = benchNearCacheToken })
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	near, err := client.New(gw.url, client.WithNearCache(client.NearCache{Token: benchNearCacheToken, Size: n, TTL: 5 * time.Minute}))
	if err != nil {
		return nil, err
	}
	defer near.Close()
	deadline := time.Now().Add(15 * time.Second)
	for !near.NearCacheStats().Trusted {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the near cache never trusted its entries")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := warmClient(ctx, near, b.tokens[:n]); err != nil {
		return nil, err
	}
	hits0, auths0 := near.NearCacheStats().Hits, gw.authRequests()
	pair, err := b.compareHandlers(ctx, "bare net/http handler (the app alone)", okHandler,
		fmt.Sprintf("client.Middleware with a warm near cache (%dk sessions) + the same handler", n/1000), near.Middleware(okHandler), tokens)
	if err != nil {
		return nil, err
	}
	hits := near.NearCacheStats().Hits - hits0
	pair[1].res.nearHits = int64(hits)
	pair[1].note = fmt.Sprintf("%.4f of the validations answered in the app's process (%d); %d reached the gateway",
		float64(hits)/float64(max(pair[1].res.requests, 1)), hits, gw.authRequests()-auths0)
	rows := pair

	// 2. Validate's cost beyond its round trip, against the same ceiling.
	ceiling, stopCeiling, err := serve(ceilingHandler())
	if err != nil {
		return nil, err
	}
	defer stopCeiling()
	plain, err := client.New(ceiling)
	if err != nil {
		return nil, err
	}
	raw := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
	rawGet := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, ceiling+"/v1/auth", nil)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := raw.Do(req)
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Auth-User-Id") == "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		okHandler(w, r)
	})
	validate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, err := plain.Validate(r.Context(), tok); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		okHandler(w, r)
	})
	pair, err = b.compareHandlers(ctx, "an app handler making one raw net/http GET to the HTTP ceiling", rawGet,
		"an app handler calling client.Validate (no near cache) against the same ceiling", validate, tokens)
	if err != nil {
		return nil, err
	}
	return append(rows, pair...), nil
}

// compareHandlers measures two in-process handlers in alternating rounds.
func (b *bench) compareHandlers(ctx context.Context, baseName string, base http.Handler, name string, h http.Handler, tokens string) ([]row, error) {
	baseURL, stopBase, err := serve(base)
	if err != nil {
		return nil, err
	}
	defer stopBase()
	url, stop, err := serve(h)
	if err != nil {
		return nil, err
	}
	defer stop()
	fmt.Fprintln(os.Stderr, name)
	br, res, err := b.alternate(name,
		func(d time.Duration) (result, error) { return b.checked(ctx, baseURL, tokens, d) },
		func(d time.Duration) (result, error) { return b.checked(ctx, url, tokens, d) })
	if err != nil {
		return nil, err
	}
	return []row{{name: baseName, isBaseline: true, res: br}, {name: name, res: res}}, nil
}

// checked is load that refuses a run with errors.
func (b *bench) checked(ctx context.Context, url, tokens string, d time.Duration) (result, error) {
	res, err := b.load(ctx, url, tokens, b.o.connections, d)
	if err == nil && (res.non2xx > 0 || res.socketErrors > 0) {
		err = fmt.Errorf("%s: %d non-2xx answers and %d socket errors: the measurement is not valid", url, res.non2xx, res.socketErrors)
	}
	return res, err
}

// warmClient validates every token once through c (fills its near cache).
func warmClient(ctx context.Context, c *client.Client, tokens []string) error {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < len(tokens); i += 16 {
				if _, err := c.Validate(ctx, tokens[i]); err != nil {
					errs <- fmt.Errorf("warming the near cache: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
