package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/idtoken"
	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/redis"
	"github.com/sessiongw/sessiongw/internal/session"
)

// row is one line of the report; a baseline row has isBaseline set and the
// scenario row after it is compared with it.
type row struct {
	name       string
	isBaseline bool
	// again: compared with the same baseline as the scenario row before
	// it (a second scenario measured against one baseline)
	again bool
	res   result
	note  string
}

func (b *bench) runAll(ctx context.Context) ([]row, error) {
	if b.o.writesOnly {
		return b.writeRows(ctx)
	}
	if b.o.peers {
		return b.peerRows(ctx)
	}
	var rows []row
	all, err := b.tokenFile(len(b.tokens))
	if err != nil {
		return nil, err
	}
	if b.o.postgresOnly {
		return b.postgresRows(ctx, all)
	}

	// 1. Warm in-process cache holding every session.
	fmt.Fprintf(os.Stderr, "warm in-process cache: filling %d sessions\n", len(b.tokens))
	// Default settings: the in-process TTL (5m) outlasts the scenarios
	// that use this gateway, as it outlasts the gaps between a working
	// set's requests.
	gw, err := b.startGateway(ctx, DefaultLocalTTL, false)
	if err != nil {
		return nil, err
	}
	heap0 := liveHeap()
	if err := b.warm(ctx, gw, b.tokens); err != nil {
		gw.stop()
		return nil, err
	}
	gw.g.Batcher().Flush(ctx) // the pending activity would count otherwise
	perSession := float64(liveHeap()-heap0) / float64(len(b.tokens))
	b.extra = append(b.extra, fmt.Sprintf("Memory of %d sessions in the in-process cache (SESSIONGW_LOCAL_CACHE_SIZE bounds it): %.0f bytes of live heap per session (%.1f MB in all, measured after a GC before and after filling); the process RSS, which also holds the harness and its data set, was %s.",
		len(b.tokens), perSession, perSession*float64(len(b.tokens))/1e6, rss()))
	gc0 := readGCCPU()
	pair, err := b.compare(ctx, "bare Echo, same five headers (HTTP ceiling)", ceilingHandler(),
		fmt.Sprintf("/v1/auth, working set of %dk sessions requested uniformly after one warming pass, default settings", len(b.tokens)/1000), gw, all, false)
	if err != nil {
		gw.stop()
		return nil, err
	}
	pair[1].note = fmt.Sprintf("the garbage collector took %.1f%% of this process's CPU during the measurement (both sides), with these sessions cached decoded", 100*readGCCPU().shareSince(gc0))
	rows = append(rows, pair...)
	if b.o.warmOnly {
		gw.stop()
		return rows, nil
	}

	// 1b. The same valid traffic while another client floods random tokens.
	fmt.Fprintln(os.Stderr, "flood")
	fctx, cancelFlood := context.WithCancel(ctx)
	floodDone := make(chan error, 1)
	go func() { floodDone <- b.flood(fctx, gw.url, b.o.connections, b.o.duration) }()
	time.Sleep(200 * time.Millisecond) // let the flood start
	flooded, err := b.measure(ctx, gw, all, b.o.connections, b.o.duration)
	cancelFlood()
	<-floodDone
	if err != nil {
		gw.stop()
		return nil, err
	}
	floodRow := row{name: "/v1/auth valid traffic (as above) while a second wrk floods random well-formed tokens", res: flooded}

	// 1c. Through real nginx auth_request, same warm gateway.
	fmt.Fprintln(os.Stderr, "nginx")
	nginxRows, err := b.throughNginx(ctx, gw, all)
	gw.stop()
	if err != nil {
		return nil, err
	}
	floodRow.note = fmt.Sprintf("valid-traffic p99 %.2f x its no-flood value; the flood got 401/503, and its %d Postgres queries (all the Postgres queries in that row) were bounded by SESSIONGW_RATE_LIMIT=%v per address; both load generators share 127.0.0.1 and the CPUs",
		float64(flooded.p99)/float64(max(pair[1].res.p99, time.Microsecond)), flooded.pgQueries, benchRateLimit)
	rows = append(rows, floodRow)
	rows = append(rows, nginxRows...)

	// 2. Redis hit, in-process cache off (Redis was filled above).
	fmt.Fprintln(os.Stderr, "redis hit")
	if gw, err = b.startGateway(ctx, 0, false); err != nil {
		return nil, err
	}
	sample, err := gw.g.Service().Validate(ctx, session.Token(b.tokens[0]), session.Client{})
	if err != nil {
		gw.stop()
		return nil, err
	}
	key := redis.Key(b.prefix, session.Token(b.tokens[0]).Hash())
	if n, err := b.rdb.MemoryUsage(ctx, key).Result(); err == nil {
		b.extra = append(b.extra, fmt.Sprintf("Redis MEMORY USAGE of a typical cached session + user: %d bytes.", n))
	}
	h, err := redisGetHandler(ctx, b.rdb, b.prefix+":baseline", sample)
	if err != nil {
		gw.stop()
		return nil, err
	}
	if pair, err = b.compare(ctx, "bare Echo + one go-redis GET of a same-size value", h,
		"/v1/auth, in-process cache off, Redis hit", gw, all, true); err != nil {
		return nil, err
	}
	rows = append(rows, pair...)

	// 3. Caches off: Postgres on every request.
	pgRows, err := b.postgresRows(ctx, all)
	if err != nil {
		return nil, err
	}
	rows = append(rows, pgRows...)

	// 4. Realistic mix, caches off (the baseline) then on; Redis is warm
	// from the scenarios above, the in-process cache starts empty.
	fmt.Fprintln(os.Stderr, "realistic mix")
	mixRows, err := b.mixPair(ctx, rows[1].res.p99)
	if err != nil {
		return nil, err
	}
	rows = append(rows, mixRows...)

	// 5. The Go client in an app's process.
	fmt.Fprintln(os.Stderr, "go client")
	appRows, err := b.appRows(ctx)
	if err != nil {
		return nil, err
	}
	rows = append(rows, appRows...)

	// 6. Warm traffic with the identity JWT on (signed once per session per
	// half-lifetime: the warm-up signs every session's token).
	fmt.Fprintln(os.Stderr, "identity JWT")
	jwtRows, err := b.jwtPair(ctx)
	if err != nil {
		return nil, err
	}
	rows = append(rows, jwtRows...)

	// 7. Writes: logins and logouts on three replicas.
	fmt.Fprintln(os.Stderr, "writes")
	writeRows, err := b.writeRows(ctx)
	if err != nil {
		return nil, err
	}
	rows = append(rows, writeRows...)

	// 8. Activity at scale: every session validated once over three
	// replicas, its activity written within two batch intervals.
	actRows, err := b.activityRows(ctx)
	if err != nil {
		return nil, err
	}
	rows = append(rows, actRows...)

	// 8b. Many sessions cached on one replica.
	manyRows, err := b.manyCachedRows(ctx)
	if err != nil {
		return nil, err
	}
	rows = append(rows, manyRows...)

	// 9. Cold start: every cache empty, 200 connections on 1,000 sessions.
	fmt.Fprintln(os.Stderr, "cold start")
	if err := b.clearRedis(ctx); err != nil {
		return nil, err
	}
	if gw, err = b.startGateway(ctx, DefaultLocalTTL, false); err != nil {
		return nil, err
	}
	defer gw.stop()
	gw.counters.countDistinct.Store(true)
	cold, err := b.tokenFile(1000)
	if err != nil {
		return nil, err
	}
	res, err := b.measure(ctx, gw, cold, 200, min(b.o.duration, 5*time.Second))
	if err != nil {
		return nil, err
	}
	distinct := res.distinct
	rows = append(rows, row{name: "cold start: empty caches, 200 connections, 1,000 sessions", res: res,
		note: fmt.Sprintf("%d Postgres queries for the %d distinct sessions requested (%.3f x)", res.pgQueries, distinct, float64(res.pgQueries)/float64(max(distinct, 1)))})
	return rows, nil
}

// compare measures the baseline handler and the gateway (stopping it when
// stop is set) in alternating rounds, with the same tokens and load; a
// baseline answering anything but 2xx (a fast error would flatter it)
// fails the run, as the gateway's does.
func (b *bench) compare(ctx context.Context, baseName string, baseline http.Handler, name string, gw *gatewayUnderTest, tokens string, stop bool) ([]row, error) {
	if stop {
		defer gw.stop()
	}
	url, stopBase, err := serve(baseline)
	if err != nil {
		return nil, err
	}
	defer stopBase()
	base, res, err := b.alternate(name,
		func(d time.Duration) (result, error) { return b.checked(ctx, url, tokens, d) },
		func(d time.Duration) (result, error) { return b.measure(ctx, gw, tokens, b.o.connections, d) })
	if err != nil {
		return nil, err
	}
	return []row{{name: baseName, isBaseline: true, res: base}, {name: name, res: res}}, nil
}

// measure loads the gateway and attributes its Postgres and Redis calls.
func (b *bench) measure(ctx context.Context, gw *gatewayUnderTest, tokens string, c int, d time.Duration) (result, error) {
	return b.measureAt(ctx, gw, gw.url, tokens, c, d)
}

// measureAt loads url (the gateway, or a proxy in front of it) and
// attributes the gateway's Postgres and Redis calls.
func (b *bench) measureAt(ctx context.Context, gw *gatewayUnderTest, url, tokens string, c int, d time.Duration) (result, error) {
	d0 := gw.counters.distinctN.Load()
	pg0, rd0, auth0 := gw.counters.pgQueries.Load(), gw.counters.redisCommands.Load(), gw.authRequests()
	res, err := b.load(ctx, url, tokens, c, d)
	if err != nil {
		return res, err
	}
	// Requests still in flight when the load stops keep querying. The
	// distinct count is read before the query count, and a query is counted
	// before its session, so the two stay consistent (queries >= distinct).
	res.distinct = gw.counters.distinctN.Load() - d0
	res.pgQueries = gw.counters.pgQueries.Load() - pg0
	res.redisCalls = gw.counters.redisCommands.Load() - rd0
	res.gatewayAuths = gw.authRequests() - auth0
	if res.non2xx > 0 || res.socketErrors > 0 {
		return res, fmt.Errorf("%d non-2xx answers and %d socket errors: the measurement is not valid", res.non2xx, res.socketErrors)
	}
	return res, nil
}

// warm validates every token once through the service (fills both caches).
func (b *bench) warm(ctx context.Context, gw *gatewayUnderTest, tokens []string) error {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < len(tokens); i += 16 {
				if _, err := gw.g.Service().Validate(ctx, session.Token(tokens[i]), session.Client{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (b *bench) clearRedis(ctx context.Context) error {
	iter := b.rdb.Scan(ctx, 0, b.prefix+":sess:*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := b.rdb.Del(ctx, iter.Val()).Err(); err != nil {
			return err
		}
	}
	return iter.Err()
}

// liveHeap returns the bytes of live heap objects after a full GC.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func rss() string {
	bs, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(bs), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func machine() string {
	model := "unknown CPU"
	if bs, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(bs), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s", model, runtime.NumCPU(), runtime.Version())
}

// jwtPair measures warm /v1/auth with SESSIONGW_IDENTITY_JWT on against
// the HTTP ceiling.
func (b *bench) jwtPair(ctx context.Context) ([]row, error) {
	// The reserve sessions were logged out by the realistic mix.
	tokens, err := b.tokenFile(b.rotation())
	if err != nil {
		return nil, err
	}
	gw, err := b.startGateway(ctx, DefaultLocalTTL, false, func(c *config.Config) {
		c.IdentityJWT, c.PublicURL = true, "https://auth.example.com"
	})
	if err != nil {
		return nil, err
	}
	// Warm through the handler, so every session's token is signed too.
	h := gw.g.Handler()
	for _, tok := range b.tokens[:b.rotation()] {
		req := httptest.NewRequest(http.MethodGet, "/v1/auth", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("X-Auth-Jwt") == "" {
			gw.stop()
			return nil, fmt.Errorf("identity JWT warm-up: %d", rec.Code)
		}
	}
	name := fmt.Sprintf("/v1/auth, warm in-process cache, identity JWT on (X-Auth-Jwt, ES256, re-signed every %s per session)", idtoken.Lifetime/2)
	return b.compare(ctx, "bare Echo, same five headers (HTTP ceiling)", ceilingHandler(), name, gw, tokens, true)
}

// postgresRows: caches off, Postgres on every request, against one bare
// query, then over sessions whose activity is already written against the
// gateway's own query for each request's session (all: the token file of
// every session).
func (b *bench) postgresRows(ctx context.Context, all string) ([]row, error) {
	fmt.Fprintln(os.Stderr, "postgres every request")
	gw, err := b.startGateway(ctx, 0, true)
	if err != nil {
		return nil, err
	}
	pool, err := postgres.Connect(ctx, b.dsn)
	if err != nil {
		gw.stop()
		return nil, err
	}
	hash := session.Token(b.tokens[0]).Hash()
	pair, err := b.compare(ctx, "bare Echo + one pgx primary-key query joining users", pgQueryHandler(pool, hash[:]),
		"/v1/auth, caches off, Postgres every request", gw, all, true)
	if err != nil {
		pool.Close()
		return nil, err
	}
	rows := append([]row(nil), pair...)
	// 3b. The same with every session's activity already written within
	// the minute, so the activity batch writes nothing during the
	// measurement and what is left over the baseline is the per-request
	// work alone (in the row above, every session served is new in the
	// minute, so the batch writes each). 20k sessions: few enough to warm
	// and measure within the minute, many enough that concurrent requests
	// rarely share a session (and so a lookup).
	fmt.Fprintln(os.Stderr, "postgres every request, activity already written")
	n := min(20_000, len(b.tokens))
	some, err := b.tokenFile(n)
	if err == nil {
		gw, err = b.startGateway(ctx, 0, true)
	}
	if err == nil {
		if err = b.warm(ctx, gw, b.tokens[:n]); err != nil {
			gw.stop()
		}
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	gw.g.Batcher().Flush(ctx)
	touch0 := gw.counters.touchStmts.Load()
	pair, err = b.compare(ctx, "bare Echo + the gateway's own validation query (all its columns) for the session each request's bearer token names (its SHA-256), over the same sessions", pgQueryPerTokenHandler(pool),
		fmt.Sprintf("/v1/auth, caches off, Postgres every request, %dk sessions whose activity was written within the minute (the per-request work without the activity batch's)", n/1000), gw, some, true)
	pool.Close()
	if err != nil {
		return nil, err
	}
	pair[1].note = fmt.Sprintf("%d activity statements during the measurement and the shutdown after it (the row above writes every session it serves)", gw.counters.touchStmts.Load()-touch0)
	rows = append(rows, pair...)
	return rows, nil
}
