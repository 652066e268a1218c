// Package gateway wires the adapters into a running gateway: pools and
// clients, the Service, the HTTP server and the background loops, with an
// ordered shutdown. cmd/sessiongw and the tests start it the same way.
package gateway

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessiongw/sessiongw/internal/activity"
	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/httpapi"
	"github.com/sessiongw/sessiongw/internal/localcache"
	"github.com/sessiongw/sessiongw/internal/metrics"
	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/push"
	"github.com/sessiongw/sessiongw/internal/ratelimit"
	"github.com/sessiongw/sessiongw/internal/redis"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/tracing"
	"github.com/sessiongw/sessiongw/internal/ui"
	"github.com/sessiongw/sessiongw/internal/webhook"
)

// Options adjusts a Gateway beyond its Config: the hooks tests and the
// benchmark harness use to observe or steer it. The zero value is what
// `sessiongw serve` runs.
type Options struct {
	Now              func() time.Time    // default time.Now
	Getenv           func(string) string // the OTEL_ variables; default os.Getenv
	ActivityInterval time.Duration       // batch flush interval, default 5s
	ActivityMinGap   time.Duration       // per-session write gap, default 1m
	PGTracer         pgx.QueryTracer     // sees every Postgres query (tests, benchmarks)
	BeforeFill       func(session.Hash)  // pauses fills (tests)
	RedisHook        goredis.Hook        // sees every Redis command (tests, benchmarks)
	// TraceExporter, when set, receives every span synchronously (tests);
	// otherwise spans go over OTLP when the OTEL_ variables ask for it.
	TraceExporter sdktrace.SpanExporter
	// NoSharedCache answers every validation from Postgres (the benchmark
	// baseline of what the service we replace did).
	NoSharedCache bool
	// WrapHandler, when set, wraps the HTTP handler the server runs (tests
	// check every answer against the OpenAPI document with it).
	WrapHandler func(http.Handler) http.Handler
	// WebhookFirstRetry shortens the first webhook retry wait (tests;
	// default 5s).
	WebhookFirstRetry time.Duration
	// LocalCacheHot sizes the in-process cache's decoded tier (tests set
	// it small so that sessions are served from the compact tier; default
	// localcache.HotMax).
	LocalCacheHot int
}

// Gateway is one running replica.
type Gateway struct {
	cfg      config.Config
	log      *slog.Logger
	pool     *pgxpool.Pool
	rdb      goredis.UniversalClient
	store    *postgres.Store
	cache    *redis.Cache
	bus      *redis.Bus
	hub      *push.Hub       // the near caches of app processes
	webhooks *webhook.Worker // nil: no endpoint configured
	local    *localcache.Cache
	grace    *localcache.Cache
	batcher  *activity.Batcher
	svc      *session.Service
	metrics  *metrics.Metrics
	tracing  *tracing.Tracing // nil: tracing off
	handler  http.Handler
	served   http.Handler // handler, wrapped by Options.WrapHandler
	ready    chan struct{}
	readyOne sync.Once
	draining atomic.Bool
}

// New connects to Postgres and Redis, applies migrations when configured,
// and builds the gateway. Call Serve to run it and Close if Serve is never
// called.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, o Options) (*Gateway, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.ActivityInterval <= 0 {
		o.ActivityInterval = 5 * time.Second
	}
	if o.ActivityMinGap <= 0 {
		o.ActivityMinGap = time.Minute
	}
	m := metrics.New()
	var tr *tracing.Tracing
	switch {
	case o.TraceExporter != nil:
		tr = tracing.New(o.TraceExporter, true, "")
	case tracing.Enabled(o.Getenv):
		var err error
		if tr, err = tracing.NewOTLP(ctx, ""); err != nil {
			return nil, fmt.Errorf("tracing: %w", err)
		}
	}
	tracers := []pgx.QueryTracer{m.PGTracer()}
	if tr != nil {
		log = slog.New(tracing.LogHandler(log.Handler()))
		tracers = append(tracers, tr.PGTracer())
	}
	if o.PGTracer != nil {
		tracers = append(tracers, o.PGTracer)
	}
	var tracer pgx.QueryTracer = tracers[0]
	if len(tracers) > 1 {
		tracer = multitracer.New(tracers...)
	}
	pool, err := postgres.Connect(ctx, cfg.DatabaseURL, tracer)
	if err != nil {
		return nil, err
	}
	if cfg.AutoMigrate {
		n, err := postgres.Migrate(ctx, pool)
		if err != nil {
			pool.Close()
			return nil, err
		}
		if n > 0 {
			log.Info("applied migrations", "count", n)
		}
	}
	rdb, err := redis.Connect(ctx, redis.Target{
		URL: cfg.RedisURL, Addrs: cfg.RedisAddrs, MasterName: cfg.RedisMasterName, SentinelPassword: cfg.RedisSentinelPassword,
		CAFile: cfg.RedisCAFile,
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	rdb.AddHook(m.RedisHook())
	if tr != nil {
		rdb.AddHook(tr.RedisHook())
	}
	if o.RedisHook != nil {
		rdb.AddHook(o.RedisHook)
	}
	g := &Gateway{cfg: cfg, log: log, pool: pool, rdb: rdb, tracing: tr, ready: make(chan struct{})}
	g.store = postgres.NewStore(pool)
	g.store.SetRolling(session.Rolling{On: cfg.Rolling, TTL: cfg.SessionTTL, RememberTTL: cfg.RememberMeTTL, Absolute: cfg.AbsoluteTTL})
	g.metrics = m
	m.WatchOutboxBacklog(g.store.OutboxBacklog)
	g.cache = redis.NewCache(rdb, cfg.RedisPrefix, g.metrics.BreakerState)
	g.bus = redis.NewBus(rdb, redis.BusOptions{
		Prefix: cfg.RedisPrefix, Window: cfg.InvalidationTimeout, Logger: log, OnAck: g.metrics.InvalidationAcked,
		// Before trusting its caches again after an interruption or a
		// change of Redis master, a replica makes sure no invalidation is
		// pending in the outbox and re-applies the recent ones.
		Recover:    func(ctx context.Context) error { return g.svc.RecoverCaches(ctx) },
		Downstream: func() bool { return g.hub.Waiting() },
	})
	// Logouts propagate their own outbox entries (the relays leave them).
	g.store.SetOrigin(g.bus.ID())
	g.hub = push.NewHub(cfg.InvalidationTimeout, g.bus.HeartbeatsSent, g.bus.Trusted)
	g.batcher = activity.New(g.store, o.ActivityInterval, o.ActivityMinGap, log, g.metrics.ActivityFlushed)
	var local session.LocalCache
	if cfg.LocalCacheTTL > 0 {
		g.local = localcache.NewSized(cfg.LocalCacheSize, cmp.Or(o.LocalCacheHot, localcache.HotMax))
		local = g.local
	}
	var limiter session.Limiter
	if cfg.RateLimit > 0 {
		limiter = ratelimit.New(cfg.RateLimit, max(1, int(2*cfg.RateLimit)))
	}
	var grace session.LocalCache
	if cfg.DBOutageGrace > 0 {
		g.grace = localcache.New(cfg.LocalCacheSize)
		grace = g.grace
	}
	var shared session.SharedCache = g.cache
	if o.NoSharedCache {
		shared = session.NoSharedCache{}
	}
	g.svc = session.NewService(session.Options{
		Store: g.store, Shared: shared, Local: local, Grace: grace, OutageGrace: cfg.DBOutageGrace,
		Bus: g.bus, Outbox: g.store, Audit: g.store, Trust: g.bus,
		Activity: g.batcher, Observer: g.metrics, Limiter: limiter, Logger: log, Now: o.Now,
		Reports:    ratelimit.NewReports(ratelimit.DefaultReportsPerSecond, ratelimit.DefaultReportBurst, ratelimit.DefaultDistinctReports, ratelimit.DefaultReportWindow),
		SessionTTL: cfg.SessionTTL, RememberMeTTL: cfg.RememberMeTTL, IdleTimeout: cfg.IdleTimeout, NewDeviceWindow: cfg.NewDeviceWindow,
		AuditRetention: cfg.AuditRetention,
		// Invalidations heard through Postgres (the second path) reach the
		// near caches too.
		Notified: func(inv session.Invalidation) { g.hub.Invalidate(inv.Hashes, inv.All) },
		Limit:    session.Limit{Default: cfg.MaxSessionsPerUser, Policy: cfg.SessionLimitPolicy},
		CacheTTL: cfg.CacheTTL, LocalCacheTTL: cfg.LocalCacheTTL,
		InvalidationWait: cfg.InvalidationTimeout, MaxStoreLookups: cfg.MaxDBLookups,
		BeforeFill: o.BeforeFill,
	})
	if g.webhooks, err = g.newWebhooks(ctx, cfg, o.WebhookFirstRetry); err != nil {
		g.Close()
		return nil, err
	}
	signer, err := g.identitySigner(ctx, cfg)
	if err != nil {
		g.Close()
		return nil, err
	}
	var devicesPage httpapi.Pages
	if cfg.UI {
		if devicesPage, err = ui.New(ui.Config{LoginURL: cfg.LoginURL, AppName: cfg.UIAppName, ReturnURL: cfg.UIReturnURL, SecurityURL: cfg.UISecurityURL}); err != nil {
			g.Close()
			return nil, fmt.Errorf("ui: %w", err)
		}
	}
	g.handler = httpapi.New(httpapi.Config{
		Service: g.svc, AdminToken: cfg.AdminToken,
		Cookie: httpapi.CookieConfig{Name: cfg.CookieName, Secure: cfg.CookieSecure, SameSite: sameSite(cfg.CookieSameSite), Domain: cfg.CookieDomain},
		Checks: []httpapi.Check{
			{Name: "postgres", Ping: g.store.Ping},
			{Name: "redis", Ping: g.cache.Ping},
		},
		Metrics: g.metrics.Handler(), Recorder: g.metrics, Logger: log, Tracer: g.tracer(),
		Draining: g.draining.Load, TrustedProxies: cfg.TrustedProxies, AuthHeaders: cfg.AuthHeaders,
		Redirect: httpapi.RedirectConfig{LoginURL: cfg.LoginURL, AllowedHosts: cfg.RedirectAllowedHosts},
		UI:       devicesPage, IdentityCacheSize: min(cfg.LocalCacheSize, localcache.HotMax),
		NearCaches: g.hub, NearCacheToken: cfg.NearCacheToken,
		Backchannel: g.backchannel(cfg), IdentityJWT: signer,
	})
	if o.WrapHandler != nil {
		g.served = o.WrapHandler(g.handler)
	} else {
		g.served = g.handler
	}
	return g, nil
}

// sameSite maps SESSIONGW_COOKIE_SAMESITE to net/http's value.
func sameSite(v string) http.SameSite {
	switch v {
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		return http.SameSiteNoneMode
	}
	return http.SameSiteLaxMode
}

// Service returns the session service.
func (g *Gateway) Service() *session.Service { return g.svc }

// Handler returns the HTTP handler (for tests that drive the router).
func (g *Gateway) Handler() http.Handler { return g.handler }

// Pool returns the Postgres pool.
func (g *Gateway) Pool() *pgxpool.Pool { return g.pool }

// Batcher returns the activity batcher.
func (g *Gateway) Batcher() *activity.Batcher { return g.batcher }

// LocalCache is the in-process cache (nil when SESSIONGW_LOCAL_CACHE_TTL is
// 0), for benchmarks that fill it directly.
func (g *Gateway) LocalCache() *localcache.Cache { return g.local }

// Subscribed is closed once the invalidation subscription is established.
func (g *Gateway) Subscribed() <-chan struct{} { return g.ready }

// Trusted reports whether the replica currently serves from its caches.
func (g *Gateway) Trusted() bool { return g.bus.Trusted() }

// BusResets counts this replica's invalidation-bus interruptions
// (resubscriptions and changes of Redis master).
func (g *Gateway) BusResets() uint64 { return g.bus.Resets() }

// busHandler forwards to the Service and reports the first subscription.
type busHandler struct{ g *Gateway }

func (h busHandler) HandleInvalidation(hs []session.Hash) <-chan struct{} {
	h.g.svc.HandleInvalidation(hs)
	return h.g.hub.Invalidate(hs, false)
}

func (h busHandler) HandleFlush() <-chan struct{} {
	h.g.svc.HandleFlush()
	return h.g.hub.Invalidate(nil, true)
}

func (h busHandler) HandleSubscriptionReset() {
	h.g.svc.HandleSubscriptionReset()
	h.g.hub.Flush()
	h.g.readyOne.Do(func() { close(h.g.ready) })
}

func (h busHandler) HandleHeartbeat(seq uint64) { h.g.hub.Heartbeat(seq) }

// Close releases Redis, Postgres and the local cache.
func (g *Gateway) Close() {
	if g.local != nil {
		g.local.Close()
	}
	if g.grace != nil {
		g.grace.Close()
	}
	_ = g.rdb.Close()
	g.pool.Close()
	if g.tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), tracing.Timeout)
		defer cancel()
		if err := g.tracing.Shutdown(ctx); err != nil {
			g.log.Warn("flushing traces failed", "err", err)
		}
	}
}

func (g *Gateway) tracer() trace.Tracer {
	if g.tracing == nil {
		return nil
	}
	return g.tracing.Tracer()
}

// Cleanup runs one cleanup (for `sessiongw cleanup`).
func (g *Gateway) Cleanup(ctx context.Context) (int, error) {
	n, err := g.svc.Cleanup(ctx)
	if err != nil {
		return n, fmt.Errorf("cleanup: %w", err)
	}
	return n, nil
}
