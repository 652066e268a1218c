package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/session"
)

// Many sessions cached on one replica (-cached, default 1M): the
// in-process cache sized for them (SESSIONGW_LOCAL_CACHE_SIZE, the one
// setting this row departs from the defaults in), filled directly with
// that many distinct sessions (they are not in Postgres or Redis: this row
// measures the cache), then /v1/auth with tokens drawn uniformly from all
// of them against the ceiling. It reports live heap and RSS per session
// and the share of CPU the garbage collector took during the measurement.
func (b *bench) manyCachedRows(ctx context.Context) ([]row, error) {
	n := b.o.cached
	fmt.Fprintf(os.Stderr, "%d sessions cached\n", n)
	gw, err := b.startGateway(ctx, DefaultLocalTTL, false, func(c *config.Config) { c.LocalCacheSize = n })
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = uuid.NewString()
	}
	path := filepath.Join(b.tokenDir, "cached-tokens.txt")
	if err := os.WriteFile(path, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	heap0, rss0 := liveHeap(), rssBytes()
	now := time.Now().UTC().Truncate(time.Microsecond)
	local := gw.g.LocalCache()
	for i, tok := range tokens {
		user := fmt.Sprintf("user-%d", i%100_000)
		local.Set(session.Token(tok).Hash(), session.Restored{
			Session: session.Session{ID: uuid.NewString(), UserID: user, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
				LastActivityAt: now, AuthenticatedAt: now, IPAddress: "192.0.2.44", LastIPAddress: "192.0.2.44",
				UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", AMR: []string{"pwd"}, Kind: session.KindSession},
			User: session.User{ID: user, Username: "bench-" + user, Email: user + "@example.com", IsActive: true, Roles: []string{"user"}},
		}, DefaultLocalTTL)
	}
	tokens = nil
	heap, rssN := liveHeap()-heap0, rssBytes()-rss0
	if got := local.Len(); got < n*99/100 {
		return nil, fmt.Errorf("the in-process cache holds %d of the %d sessions put in it", got, n)
	}
	gc0 := readGCCPU()
	pair, err := b.compare(ctx, "bare Echo, same five headers (HTTP ceiling)", ceilingHandler(),
		fmt.Sprintf("/v1/auth, %dk sessions cached in process, requested uniformly (SESSIONGW_LOCAL_CACHE_SIZE=%d, otherwise defaults)", n/1000, n),
		gw, path, false)
	if err != nil {
		return nil, err
	}
	pair[1].note = fmt.Sprintf("%.0f bytes of live heap and %.0f bytes of RSS per cached session (%.0f MB and %.0f MB in all, after a GC); "+
		"the garbage collector took %.1f%% of this process's CPU during the measurement (both sides); "+
		"the sessions were put in the cache directly (they are not in Postgres or Redis), so only the cache is measured",
		float64(heap)/float64(n), float64(rssN)/float64(n), float64(heap)/1e6, float64(rssN)/1e6, 100*readGCCPU().shareSince(gc0))
	return pair, nil
}

// rssBytes is this process's resident set size.
func rssBytes() int64 {
	var kb int64
	if _, err := fmt.Sscanf(strings.TrimSuffix(rss(), " kB"), "%d", &kb); err != nil {
		return 0
	}
	return kb * 1024
}

// gcCPU is this process's garbage-collector and busy CPU time so far
// (runtime/metrics).
type gcCPU struct{ gc, busy float64 }

func readGCCPU() gcCPU {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}
	metrics.Read(s)
	return gcCPU{gc: s[0].Value.Float64(), busy: s[1].Value.Float64() - s[2].Value.Float64()}
}

// shareSince is the collector's share of the busy CPU time since c0.
func (c gcCPU) shareSince(c0 gcCPU) float64 {
	if c.busy-c0.busy <= 0 {
		return 0
	}
	return (c.gc - c0.gc) / (c.busy - c0.busy)
}
