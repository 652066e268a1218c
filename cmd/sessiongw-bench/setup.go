package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
)

// bench owns the throwaway data and the servers under test.
type bench struct {
	o        options
	schema   string
	prefix   string
	dsn      string // with search_path set to the schema
	tokens   []string
	ids      []string // public session ids, by token index
	tokenDir string
	// nextVictim is the next reserve session the mix logs out (see mix.go).
	nextVictim int
	admin      *pgx.Conn
	rdb        *goredis.Client
	extra      []string // facts printed under the table
}

func newBench(ctx context.Context, o options) (*bench, error) {
	b := &bench{o: o, schema: "bench_" + randHex(6), prefix: "bench-" + randHex(6)}
	var err error
	if b.admin, err = pgx.Connect(ctx, o.databaseURL); err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	if _, err := b.admin.Exec(ctx, "CREATE SCHEMA "+b.schema); err != nil {
		return nil, err
	}
	u, err := url.Parse(o.databaseURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", b.schema)
	u.RawQuery = q.Encode()
	b.dsn = u.String()
	opt, err := goredis.ParseURL(o.redisURL)
	if err != nil {
		return nil, err
	}
	b.rdb = goredis.NewClient(opt)
	if err := b.seed(ctx); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// seed creates 1,000 users and o.sessions sessions with known tokens.
func (b *bench) seed(ctx context.Context) error {
	pool, err := postgres.Connect(ctx, b.dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		return err
	}
	users := make([][]any, 1000)
	for i := range users {
		users[i] = []any{strconv.Itoa(i + 1), fmt.Sprintf("user%d", i+1), fmt.Sprintf("user%d@example.com", i+1), true, []string{"user"}}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "username", "email", "is_active", "roles"}, pgx.CopyFromRows(users)); err != nil {
		return err
	}
	now := time.Now()
	rows := make([][]any, b.o.sessions)
	b.tokens = make([]string, b.o.sessions)
	b.ids = make([]string, b.o.sessions)
	for i := range rows {
		tok, err := session.NewToken()
		if err != nil {
			return err
		}
		b.tokens[i] = tok.Reveal()
		h := tok.Hash()
		id := uuid.New()
		b.ids[i] = id.String()
		rows[i] = []any{h[:], id, strconv.Itoa(i%1000 + 1), now, now.Add(24 * time.Hour), now,
			"192.0.2.1", "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0", false}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"sessions"}, []string{"token_hash", "public_id", "user_id", "created_at",
		"expires_at", "last_activity_at", "ip_address", "user_agent", "remember_me"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	if b.tokenDir, err = os.MkdirTemp("", "sessiongw-bench-"); err != nil {
		return err
	}
	return nil
}

// tokenFile writes the first n tokens, one per line, for wrk's script.
func (b *bench) tokenFile(n int) (string, error) {
	path := filepath.Join(b.tokenDir, fmt.Sprintf("tokens-%d.txt", n))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	return path, os.WriteFile(path, []byte(strings.Join(b.tokens[:n], "\n")+"\n"), 0o600)
}

func (b *bench) close() {
	ctx := context.Background()
	if b.admin != nil {
		b.admin.Exec(ctx, "DROP SCHEMA "+b.schema+" CASCADE")
		b.admin.Close(ctx)
	}
	if b.rdb != nil {
		iter := b.rdb.Scan(ctx, 0, b.prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			b.rdb.Del(ctx, iter.Val())
		}
		b.rdb.Close()
	}
	if b.tokenDir != "" {
		os.RemoveAll(b.tokenDir)
	}
}

// counters count what one gateway sends to Postgres and Redis.
type counters struct {
	pgQueries    atomic.Int64 // session lookups
	pgRoundTrips atomic.Int64 // every statement, pipeline and COPY (background loops included)
	// The activity batch's statements: how many, how many failed, and the
	// longest (nanoseconds).
	touchStmts, touchErrs, touchMax atomic.Int64
	redisCommands                   atomic.Int64
	// Distinct sessions looked up, counted only when countDistinct is set
	// (the cold-start row, which reports them): a map insert per query
	// took about 3 % of the gateway's CPU on the Postgres path, which its
	// baseline does not pay.
	countDistinct atomic.Bool
	distinct      sync.Map // session hashes looked up in Postgres
	distinctN     atomic.Int64
}

type touchStart struct{}

func (c *counters) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.pgRoundTrips.Add(1)
	if strings.Contains(d.SQL, "UPDATE sessions s SET last_activity_at = v.at") {
		ctx = context.WithValue(ctx, touchStart{}, time.Now())
	}
	if strings.Contains(d.SQL, "FROM sessions s JOIN users u") {
		c.pgQueries.Add(1)
		if c.countDistinct.Load() && len(d.Args) > 0 {
			if h, ok := d.Args[0].([]byte); ok {
				if _, seen := c.distinct.LoadOrStore(string(h), struct{}{}); !seen {
					c.distinctN.Add(1)
				}
			}
		}
	}
	return ctx
}
func (c *counters) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	if t0, ok := ctx.Value(touchStart{}).(time.Time); ok {
		c.touchStmts.Add(1)
		if d.Err != nil {
			c.touchErrs.Add(1)
		}
		took := int64(time.Since(t0))
		for {
			m := c.touchMax.Load()
			if took <= m || c.touchMax.CompareAndSwap(m, took) {
				break
			}
		}
	}
}

// A pipeline (pgx.Batch) and a COPY are one round trip each.
func (c *counters) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.pgRoundTrips.Add(1)
	return ctx
}
func (c *counters) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *counters) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (c *counters) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	c.pgRoundTrips.Add(1)
	return ctx
}
func (c *counters) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

func (c *counters) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (c *counters) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !isBackground(cmd) {
			c.redisCommands.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *counters) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.redisCommands.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// isBackground leaves out the heartbeats and the master check beside
// them, which are not per request.
func isBackground(cmd goredis.Cmder) bool {
	if cmd.Name() == "info" {
		return true
	}
	args := cmd.Args()
	if len(args) < 5 {
		return false
	}
	// evalsha <sha> 2 <prefix>:replicas <prefix>:invalidate ...
	k, _ := args[3].(string)
	return strings.HasSuffix(k, ":replicas")
}

// benchRateLimit is the production default of SESSIONGW_RATE_LIMIT.
const benchRateLimit = 50

// DefaultLocalTTL is SESSIONGW_LOCAL_CACHE_TTL's default.
const DefaultLocalTTL = 5 * time.Minute

// benchAdminToken guards the admin API of the gateways under test.
const benchAdminToken = "bench-admin-token-0123456789"

// startGateway runs a gateway on 127.0.0.1:0 with the defaults a user gets
// (config.Parse of an empty environment: SESSIONGW_CACHE_TTL 5m, an
// in-process cache of 100,000 sessions, ...), except: local cache TTL
// localTTL (0 = off; DefaultLocalTTL is the default), and, when noShared,
// no Redis cache (a benchmark-only baseline); mods adjust the rest, and the
// rows that use them say so.
func (b *bench) startGateway(ctx context.Context, localTTL time.Duration, noShared bool, mods ...func(*config.Config)) (*gatewayUnderTest, error) {
	c := &counters{}
	cfg, _, err := config.Parse("sessiongw-bench", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		return nil, err
	}
	cfg.DatabaseURL, cfg.RedisURL, cfg.HTTPAddr, cfg.RedisPrefix = b.dsn, b.o.redisURL, "127.0.0.1:0", b.prefix
	cfg.AutoMigrate, cfg.ShutdownDrain, cfg.AdminToken, cfg.LogLevel, cfg.CleanupInterval = false, 0, benchAdminToken, "warn", 0
	cfg.LocalCacheTTL = localTTL
	for _, m := range mods {
		m(&cfg)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	gctx, cancel := context.WithCancel(ctx)
	g, err := gateway.New(gctx, cfg, log, gateway.Options{PGTracer: c, RedisHook: c, NoSharedCache: noShared})
	if err != nil {
		cancel()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		g.Close()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(gctx, ln) }()
	deadline := time.Now().Add(15 * time.Second)
	for !g.Trusted() {
		if time.Now().After(deadline) {
			cancel()
			return nil, fmt.Errorf("gateway never trusted its caches")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &gatewayUnderTest{g: g, url: "http://" + ln.Addr().String(), counters: c, stop: func() { cancel(); <-done }}, nil
}

type gatewayUnderTest struct {
	g        *gateway.Gateway
	url      string
	counters *counters
	stop     func()
}

// authRequests reads the gateway's own count of answered /v1/auth requests
// from its metrics, so a measurement can show that traffic really went
// through it (and not around it).
func (g *gatewayUnderTest) authRequests() int64 {
	rec := httptest.NewRecorder()
	g.g.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var n int64
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, `sessiongw_http_requests_total{`) && strings.Contains(line, `route="/v1/auth"`) {
			if f := strings.Fields(line); len(f) == 2 {
				v, _ := strconv.ParseFloat(f[1], 64)
				n += int64(v)
			}
		}
	}
	return n
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
