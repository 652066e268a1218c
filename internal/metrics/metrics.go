// Package metrics exposes the gateway's Prometheus metrics on a registry of
// its own (no global state).
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Metrics implements session.Observer and the HTTP request recorder.
type Metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	cache         *prometheus.CounterVec
	storeLookups  prometheus.Counter
	published     prometheus.Counter
	received      prometheus.Counter
	resets        prometheus.Counter
	activityBatch *prometheus.CounterVec
	fillsRefused  prometheus.Counter
	outbox        prometheus.Counter
	notified      *prometheus.CounterVec
	acks          *prometheus.CounterVec
	breaker       *prometheus.GaugeVec
	observers     sync.Map // requestKey → *requestObservers
	cacheHits     [3][2]prometheus.Counter
	deps          *dependencyMetrics
	auditHead     prometheus.Gauge
	events        *eventMetrics
}

var _ session.Observer = (*Metrics)(nil)

// New registers every collector on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiongw_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sessiongw_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"route"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiongw_cache_lookups_total", Help: "Cache lookups by layer (local, redis; grace: a confirmed copy used while Postgres is down) and result (hit, miss).",
		}, []string{"layer", "result"}),
		storeLookups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiongw_postgres_fallbacks_total", Help: "Validations answered from Postgres (both caches missed).",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiongw_invalidations_published_total", Help: "Sessions invalidated by this replica and published.",
		}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiongw_invalidations_received_total", Help: "Session invalidations received over pub/sub.",
		}),
		resets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiongw_invalidation_subscriptions_total", Help: "(Re)subscriptions to the invalidation channel and changes of Redis master (failover, restart); each flushes the in-process cache and re-applies recent invalidations.",
		}),
		activityBatch: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiongw_activity_writes_total", Help: "Sessions whose activity was written in batches, by result.",
		}, []string{"result"}),
		fillsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiongw_cache_fills_refused_total", Help: "Redis fills refused because an invalidation took the lease (a stale fill prevented).",
		}),
		outbox: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiongw_outbox_relayed_total", Help: "Outbox entries relayed to Redis by this replica.",
		}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiongw_invalidation_acks_total", Help: "Published invalidations by outcome: acked by every live replica, or timed out (bounded wait).",
		}, []string{"result"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sessiongw_redis_breaker_state", Help: "1 for the Redis circuit breaker's current state.",
		}, []string{"state"}),
	}
	for l, layer := range []string{session.LayerLocal, session.LayerShared, session.LayerGrace} {
		for r, result := range []string{"miss", "hit"} {
			m.cacheHits[l][r] = m.cache.WithLabelValues(layer, result)
		}
	}
	m.BreakerState("closed")
	m.deps = newDependencyMetrics()
	m.notified = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessiongw_outbox_notifications_total", Help: "Postgres notifications of outbox entries handled, by result: read, or unreadable (the in-process caches were flushed to be safe).",
	}, []string{"result"})
	m.auditHead = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sessiongw_audit_head_seq", Help: "Sequence number of the audit chain's head at the last checkpoint (SESSIONGW_AUDIT_CHECKPOINT_INTERVAL); the log line of the same checkpoint carries its hash. It should only grow.",
	})
	m.events = newEventMetrics(m.reg)
	m.reg.MustRegister(m.fillsRefused, m.outbox, m.acks, m.breaker, m.deps.pg, m.deps.redis, m.notified, m.auditHead)
	m.reg.MustRegister(m.requests, m.latency, m.cache, m.storeLookups, m.published, m.received, m.resets, m.activityBatch,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

type requestKey struct {
	route, method string
	status        int
}

type requestObservers struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// ObserveRequest records one HTTP request. The label lookups are resolved
// once per (route, method, status) and kept, off the per-request path.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	k := requestKey{route, method, status}
	o, ok := m.observers.Load(k)
	if !ok {
		o, _ = m.observers.LoadOrStore(k, &requestObservers{
			count:   m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			latency: m.latency.WithLabelValues(route),
		})
	}
	ro := o.(*requestObservers)
	ro.count.Inc()
	ro.latency.Observe(d.Seconds())
}

// CacheLookup implements session.Observer.
func (m *Metrics) CacheLookup(layer string, hit bool) {
	l, r := 0, 0
	switch layer {
	case session.LayerShared:
		l = 1
	case session.LayerGrace:
		l = 2
	}
	if hit {
		r = 1
	}
	m.cacheHits[l][r].Inc()
}

// StoreLookup implements session.Observer.
func (m *Metrics) StoreLookup() { m.storeLookups.Inc() }

// InvalidationsPublished implements session.Observer.
func (m *Metrics) InvalidationsPublished(n int) { m.published.Add(float64(n)) }

// InvalidationsReceived implements session.Observer.
func (m *Metrics) InvalidationsReceived(n int) { m.received.Add(float64(n)) }

// SubscriptionReset implements session.Observer.
func (m *Metrics) SubscriptionReset() { m.resets.Inc() }

// ActivityFlushed records one batched activity write.
func (m *Metrics) ActivityFlushed(n int, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.activityBatch.WithLabelValues(result).Add(float64(n))
}

// FillRefused implements session.Observer.
func (m *Metrics) FillRefused() { m.fillsRefused.Inc() }

// OutboxRelayed implements session.Observer.
func (m *Metrics) OutboxRelayed(n int) { m.outbox.Add(float64(n)) }

// OutboxNotified implements session.Observer.
func (m *Metrics) OutboxNotified(read bool) {
	if read {
		m.notified.WithLabelValues("read").Inc()
		return
	}
	m.notified.WithLabelValues("unreadable").Inc()
}

// InvalidationAcked records the outcome of one waited publish.
func (m *Metrics) InvalidationAcked(timedOut bool) {
	if timedOut {
		m.acks.WithLabelValues("timeout").Inc()
		return
	}
	m.acks.WithLabelValues("acked").Inc()
}

// AuditCheckpoint records the audit head's sequence number.
func (m *Metrics) AuditCheckpoint(seq int64) { m.auditHead.Set(float64(seq)) }

// BreakerState records the Redis circuit breaker's state.
func (m *Metrics) BreakerState(state string) {
	for _, s := range []string{"closed", "half-open", "open"} {
		v := 0.0
		if s == state {
			v = 1
		}
		m.breaker.WithLabelValues(s).Set(v)
	}
}
