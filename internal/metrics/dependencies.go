package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
)

// dependencyMetrics time the calls to Postgres and Redis.
type dependencyMetrics struct {
	pg       *prometheus.HistogramVec
	redis    *prometheus.HistogramVec
	redisObs sync.Map // redisKey → prometheus.Observer
	pgOK     prometheus.Observer
	pgFailed prometheus.Observer
}

type redisKey struct{ command, result string }

// dependencyBuckets span a loopback round trip (tens of µs) to a timeout.
var dependencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

func newDependencyMetrics() *dependencyMetrics {
	d := &dependencyMetrics{
		pg: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sessiongw_postgres_query_duration_seconds", Help: "Postgres query latency by result (ok, error).", Buckets: dependencyBuckets,
		}, []string{"result"}),
		redis: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sessiongw_redis_command_duration_seconds", Help: "Redis command latency by command and result (ok, error; a miss is ok).", Buckets: dependencyBuckets,
		}, []string{"command", "result"}),
	}
	d.pgOK, d.pgFailed = d.pg.WithLabelValues("ok"), d.pg.WithLabelValues("error")
	return d
}

type pgStartKey struct{}

// PGTracer returns the pgx tracer that times every Postgres query.
func (m *Metrics) PGTracer() pgx.QueryTracer { return pgTracer{m.deps} }

type pgTracer struct{ d *dependencyMetrics }

func (t pgTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, pgStartKey{}, time.Now())
}

func (t pgTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	start, ok := ctx.Value(pgStartKey{}).(time.Time)
	if !ok {
		return
	}
	o := t.d.pgOK
	if data.Err != nil && !errors.Is(data.Err, pgx.ErrNoRows) {
		o = t.d.pgFailed
	}
	o.Observe(time.Since(start).Seconds())
}

// RedisHook returns the go-redis hook that times every Redis command.
func (m *Metrics) RedisHook() goredis.Hook { return redisHook{m.deps} }

type redisHook struct{ d *dependencyMetrics }

func (h redisHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h redisHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.d.observeRedis(cmd.Name(), err, time.Since(start))
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.d.observeRedis("pipeline", err, time.Since(start))
		return err
	}
}

func (d *dependencyMetrics) observeRedis(command string, err error, took time.Duration) {
	result := "ok"
	if err != nil && !errors.Is(err, goredis.Nil) {
		result = "error"
	}
	k := redisKey{command, result}
	o, ok := d.redisObs.Load(k)
	if !ok {
		o, _ = d.redisObs.LoadOrStore(k, d.redis.WithLabelValues(command, result))
	}
	o.(prometheus.Observer).Observe(took.Seconds())
}

// WatchOutboxBacklog exports the number of outbox entries not yet relayed,
// read (with a short timeout) whenever the metrics are scraped.
func (m *Metrics) WatchOutboxBacklog(backlog func(context.Context) (int, error)) {
	var mu sync.Mutex // one query at a time, however many scrapers
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sessiongw_outbox_backlog", Help: "Invalidation outbox entries not yet relayed to Redis (-1: Postgres did not answer).",
	}, func() float64 {
		mu.Lock()
		defer mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := backlog(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}
