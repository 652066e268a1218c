package ratelimit

import (
	"sync"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/time/rate"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Reports bounds what the holder of a session may report about its own
// client (POST /v1/session/activity): a number of reports per second with
// bursts, and a number of distinct reported values (address and user agent
// together) per window. Every new value may add device rows and a
// session.new_device audit record, so without a bound one session could
// grow both without end. State is per replica, in a bounded cache.
type Reports struct {
	perSecond rate.Limit
	burst     int
	distinct  int
	window    time.Duration
	now       func() time.Time
	sessions  *otter.Cache[string, *reportState]
}

var _ session.ReportLimiter = (*Reports)(nil)

type reportState struct {
	mu     sync.Mutex
	bucket *rate.Limiter
	seen   map[string]time.Time // value → when first reported in the window
}

// Default bounds of NewReports: 10 reports a minute (bursts of 10) and 5
// distinct values a day, per session.
const (
	DefaultReportsPerSecond = 1.0 / 6
	DefaultReportBurst      = 10
	DefaultDistinctReports  = 5
	DefaultReportWindow     = 24 * time.Hour
)

// NewReports allows perSecond reports per session with bursts of burst, and
// at most distinct different values per window.
func NewReports(perSecond float64, burst, distinct int, window time.Duration) *Reports {
	return &Reports{
		perSecond: rate.Limit(perSecond), burst: burst, distinct: distinct, window: window, now: time.Now,
		sessions: otter.Must(&otter.Options[string, *reportState]{
			MaximumSize:      100_000,
			ExpiryCalculator: otter.ExpiryAccessing[string, *reportState](window),
		}),
	}
}

// AllowReport implements session.ReportLimiter: it spends one report of
// the session's budget and admits value unless it is a new one beyond the
// window's allowance.
func (r *Reports) AllowReport(sessionID, value string) bool {
	st, _ := r.sessions.ComputeIfAbsent(sessionID, func() (*reportState, bool) {
		return &reportState{bucket: rate.NewLimiter(r.perSecond, r.burst), seen: map[string]time.Time{}}, false
	})
	now := r.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.bucket.AllowN(now, 1) {
		return false
	}
	for v, at := range st.seen {
		if now.Sub(at) >= r.window {
			delete(st.seen, v)
		}
	}
	if _, ok := st.seen[value]; ok {
		return true
	}
	if len(st.seen) >= r.distinct {
		return false
	}
	st.seen[value] = now
	return true
}
