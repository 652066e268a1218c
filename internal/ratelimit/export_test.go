package ratelimit

import "time"

// WithClock sets the limiter's clock (tests only).
func (p *PerClient) WithClock(now func() time.Time) *PerClient {
	p.now = now
	return p
}

// SetReportsClock replaces the clock of r (tests only).
func SetReportsClock(r *Reports, now func() time.Time) { r.now = now }
