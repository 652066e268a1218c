package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Endpoint is one receiver, as configured.
type Endpoint struct {
	Name  string
	URL   string
	Key   []byte   // the decoded whsec_ secret
	Types []string // empty: every event type
}

// Options configure a Worker.
type Options struct {
	Store     Store
	Endpoints []Endpoint
	// MaxAge is how long a delivery is retried before it is marked failed.
	MaxAge time.Duration
	// CheckpointInterval is how often the worker writes an audit.checkpoint
	// event (0: never).
	CheckpointInterval time.Duration
	// Device names a device from a user agent ("Firefox on Linux").
	Device func(userAgent string) string
	Log    *slog.Logger
	// OnDelivery counts attempts by result: delivered, retry or failed.
	OnDelivery func(endpoint, result string)
	// OnOldest reports how long the oldest pending event of each endpoint
	// has waited (0: none pending).
	OnOldest func(endpoint string, age time.Duration)
	// Client sends the deliveries (default: a 10 s timeout, no redirects).
	Client *http.Client
	// FirstRetry is the wait before the first retry (default 5 s); each
	// later wait doubles, up to MaxRetryWait.
	FirstRetry time.Duration
}

// Retry waits: the first after FirstRetry, doubling, never more than
// MaxRetryWait apart.
const (
	DefaultFirstRetry = 5 * time.Second
	MaxRetryWait      = 15 * time.Minute
)

// Worker delivers the events. Every replica runs one; the store lets one
// at a time deliver (Store.Lead).
type Worker struct {
	o      Options
	routes []Route
	byName map[string]Endpoint
}

// New returns a Worker.
func New(o Options) *Worker {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Device == nil {
		o.Device = func(string) string { return "" }
	}
	if o.OnDelivery == nil {
		o.OnDelivery = func(string, string) {}
	}
	if o.OnOldest == nil {
		o.OnOldest = func(string, time.Duration) {}
	}
	if o.FirstRetry <= 0 {
		o.FirstRetry = DefaultFirstRetry
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	w := &Worker{o: o, byName: map[string]Endpoint{}}
	for _, e := range o.Endpoints {
		w.routes = append(w.routes, Route{Endpoint: e.Name, Types: e.Types})
		w.byName[e.Name] = e
	}
	return w
}

// Routes are the endpoints' event filters (for FanOut and Replay).
func (w *Worker) Routes() []Route { return w.routes }

// Register records this replica's endpoints, so events start being
// written; call it before serving.
func (w *Worker) Register(ctx context.Context) error {
	names := make([]string, len(w.o.Endpoints))
	for i, e := range w.o.Endpoints {
		names[i] = e.Name
	}
	return w.o.Store.RegisterEndpoints(ctx, names)
}

// Run keeps the endpoints registered, reports the oldest pending event, and
// delivers while this replica is the worker, until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.o.Store.Lead(ctx, w.lead) })
	register := time.NewTicker(time.Minute)
	oldest := time.NewTicker(15 * time.Second)
	defer func() { register.Stop(); oldest.Stop(); wg.Wait() }()
	w.reportOldest(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-register.C:
			if err := w.Register(ctx); err != nil && ctx.Err() == nil {
				w.o.Log.Warn("webhooks: registering the endpoints", "err", err)
			}
		case <-oldest.C:
			w.reportOldest(ctx)
		}
	}
}

func (w *Worker) reportOldest(ctx context.Context) {
	m, err := w.o.Store.OldestPending(ctx)
	if err != nil {
		return
	}
	now := time.Now()
	for _, e := range w.o.Endpoints {
		age := time.Duration(0)
		if at, ok := m[e.Name]; ok {
			age = now.Sub(at)
		}
		w.o.OnOldest(e.Name, age)
	}
}

// health is what the worker knows of an endpoint: while it is failing, one
// delivery at a time probes it, backing off; the first success makes every
// pending delivery due again.
type health struct {
	failing  bool
	failures int
	probeAt  time.Time
}

const (
	fanOutBatch  = 500
	dueBatch     = 32
	parallelSend = 8
	housekeeping = 30 * time.Second
)

// lead is the worker's loop while this replica holds the lead.
func (w *Worker) lead(ctx context.Context, wake <-chan struct{}) {
	w.o.Log.Info("webhooks: this replica delivers the events")
	defer w.o.Log.Info("webhooks: this replica no longer delivers the events")
	healths := map[string]*health{}
	for _, e := range w.o.Endpoints {
		healths[e.Name] = &health{}
	}
	var lastHousekeeping, lastCheckpoint time.Time
	lastCheckpoint = time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for ctx.Err() == nil {
		for {
			n, err := w.o.Store.FanOut(ctx, w.routes, fanOutBatch)
			if err != nil {
				if ctx.Err() == nil {
					w.o.Log.Warn("webhooks: taking new events", "err", err)
				}
				break
			}
			if n < fanOutBatch {
				break
			}
		}
		now := time.Now()
		if now.Sub(lastHousekeeping) >= housekeeping {
			lastHousekeeping = now
			w.housekeep(ctx, now)
		}
		if w.o.CheckpointInterval > 0 && now.Sub(lastCheckpoint) >= w.o.CheckpointInterval {
			lastCheckpoint = now
			if err := w.o.Store.AddCheckpoint(ctx); err != nil && ctx.Err() == nil {
				w.o.Log.Warn("webhooks: writing the audit checkpoint event", "err", err)
			}
		}
		more := false
		for _, e := range w.o.Endpoints {
			if w.deliver(ctx, e, healths[e.Name]) {
				more = true
			}
		}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-tick.C:
		}
	}
}

func (w *Worker) housekeep(ctx context.Context, now time.Time) {
	for _, e := range w.o.Endpoints {
		if n, err := w.o.Store.ExpirePending(ctx, e.Name, now.Add(-w.o.MaxAge)); err == nil && n > 0 {
			w.o.Log.Warn("webhooks: gave up on deliveries older than SESSIONGW_WEBHOOK_MAX_AGE", "endpoint", e.Name, "deliveries", n)
			for range n {
				w.o.OnDelivery(e.Name, "failed")
			}
		}
	}
	_, _ = w.o.Store.PurgeEvents(ctx, now.Add(-w.o.MaxAge-7*24*time.Hour))
}

// deliver sends what is due to one endpoint; it reports whether more may
// be due at once.
func (w *Worker) deliver(ctx context.Context, e Endpoint, h *health) bool {
	limit := dueBatch
	if h.failing {
		if time.Now().Before(h.probeAt) {
			return false
		}
		limit = 1
	}
	due, err := w.o.Store.Due(ctx, e.Name, limit)
	if err != nil || len(due) == 0 {
		return false
	}
	type result struct {
		ok, down bool
	}
	results := make([]result, len(due))
	sem := make(chan struct{}, parallelSend)
	var wg sync.WaitGroup
	for i, d := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			o, down := w.attempt(ctx, e, d)
			if ctx.Err() != nil {
				return // leadership lost mid-flight: the next worker sends it again
			}
			if err := w.o.Store.Record(ctx, e.Name, d.Event.ID, o); err != nil {
				w.o.Log.Warn("webhooks: recording a delivery", "endpoint", e.Name, "err", err)
			}
			switch o.State {
			case StateDelivered:
				w.o.OnDelivery(e.Name, "delivered")
			case StateFailed:
				w.o.OnDelivery(e.Name, "failed")
			default:
				w.o.OnDelivery(e.Name, "retry")
			}
			results[i] = result{ok: o.State == StateDelivered, down: down}
		})
	}
	wg.Wait()
	anyOK, anyDown := false, false
	for _, r := range results {
		anyOK = anyOK || r.ok
		anyDown = anyDown || r.down
	}
	switch {
	case anyOK:
		if h.failing || h.failures > 0 {
			w.o.Log.Info("webhooks: the endpoint answers again; catching up", "endpoint", e.Name)
			if err := w.o.Store.WakeEndpoint(ctx, e.Name); err != nil {
				w.o.Log.Warn("webhooks: waking the endpoint's deliveries", "endpoint", e.Name, "err", err)
			}
		}
		*h = health{}
		return true
	case anyDown:
		h.failures++
		if !h.failing {
			w.o.Log.Warn("webhooks: the endpoint does not answer; probing it with backoff", "endpoint", e.Name)
		}
		h.failing = true
		h.probeAt = time.Now().Add(w.backoff(h.failures))
		return false
	}
	return len(due) == limit
}

// backoff is the wait after the n-th failed attempt (n >= 1), with a
// little jitter so retries of many users spread out.
func (w *Worker) backoff(n int) time.Duration {
	d := w.o.FirstRetry
	for i := 1; i < n && d < MaxRetryWait; i++ {
		d *= 2
	}
	d = min(d, MaxRetryWait)
	return d - time.Duration(rand.Int64N(int64(d/10)+1))
}

// attempt sends one delivery. down reports a failure that says the
// endpoint, not this event, is the problem (no answer, 5xx, 408, 429).
func (w *Worker) attempt(ctx context.Context, e Endpoint, d Delivery) (Outcome, bool) {
	body, err := Body(d.Event, w.o.Device)
	if err != nil { // an event we cannot render never will be
		return Outcome{State: StateFailed, Error: "rendering the body: " + err.Error()}, false
	}
	now := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return Outcome{State: StateFailed, Error: err.Error()}, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sessiongw-webhooks")
	req.Header.Set("webhook-id", d.Event.UID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(e.Key, d.Event.UID, now, body))
	resp, err := w.o.Client.Do(req)
	status, msg, down := 0, "", true
	if err != nil {
		msg = err.Error()
	} else {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		status = resp.StatusCode
		if status >= 200 && status < 300 {
			return Outcome{State: StateDelivered, Status: status}, false
		}
		msg = fmt.Sprintf("HTTP %d: %s", status, bytes.TrimSpace(b))
		down = status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
	}
	if now.Sub(d.Event.At) >= w.o.MaxAge {
		return Outcome{State: StateFailed, Status: status, Error: msg}, down
	}
	return Outcome{State: StatePending, Status: status, Error: msg, NextAt: now.Add(w.backoff(d.Attempts + 1))}, down
}

// Body renders an event as delivered:
// {"type", "timestamp", "data"}. The data never carries a token or a
// token's hash; the user agent becomes a device name.
func Body(e Event, device func(string) string) ([]byte, error) {
	data := map[string]any{}
	if len(e.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(e.Data))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			return nil, err
		}
	}
	if ua, ok := data["user_agent"].(string); ok {
		delete(data, "user_agent")
		data["device"] = device(ua)
	}
	if s, ok := data["expires_at"].(string); ok { // Postgres' jsonb spelling
		if t, err := time.Parse("2006-01-02T15:04:05.999999-07:00", s); err == nil {
			data["expires_at"] = t.UTC().Format(time.RFC3339Nano)
		}
	}
	if e.AuditSeq != nil {
		data["audit_seq"] = *e.AuditSeq
	}
	return json.Marshal(struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}{e.Type, e.At.UTC().Format(time.RFC3339Nano), data})
}
