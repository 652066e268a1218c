// Package ratelimit limits, per client address, Postgres lookups that find
// no session: a flood of random well-formed tokens from one client cannot
// crowd out everyone else's lookups, while valid sessions (even uncached
// ones, as after a restart) never spend the budget.
package ratelimit

import (
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/time/rate"

	"github.com/sessiongw/sessiongw/internal/session"
)

// PerClient implements session.Limiter with a token bucket per client,
// kept in a bounded cache (idle clients are forgotten after a minute).
type PerClient struct {
	perSecond rate.Limit
	burst     int
	now       func() time.Time
	buckets   *otter.Cache[string, *rate.Limiter]
}

var _ session.Limiter = (*PerClient)(nil)

// New allows perSecond lookups per client with bursts of burst.
func New(perSecond float64, burst int) *PerClient {
	return &PerClient{
		perSecond: rate.Limit(perSecond), burst: burst, now: time.Now,
		buckets: otter.Must(&otter.Options[string, *rate.Limiter]{
			MaximumSize:      100_000,
			ExpiryCalculator: otter.ExpiryAccessing[string, *rate.Limiter](time.Minute),
		}),
	}
}

// Allow implements session.Limiter: whether the client has budget left. It
// spends nothing. An empty client (not an HTTP request path) is never limited.
func (p *PerClient) Allow(client string) bool {
	if client == "" {
		return true
	}
	l, ok := p.buckets.GetIfPresent(client)
	return !ok || l.TokensAt(p.now()) >= 1
}

// Failed implements session.Limiter: the client's lookup found no session.
// It spends a token even when none is left, going into debt: lookups that
// passed Allow concurrently all pay, so the long-run rate of failed lookups
// is the configured one, not a multiple of the concurrency.
func (p *PerClient) Failed(client string) {
	if client == "" {
		return
	}
	l, _ := p.buckets.ComputeIfAbsent(client, func() (*rate.Limiter, bool) {
		return rate.NewLimiter(p.perSecond, p.burst), false
	})
	l.ReserveN(p.now(), 1)
}
