package session

import "time"

// Rolling is the rolling-expiry policy applied with every activity write:
// when On, activity at t moves a session's expiry to t plus its TTL (TTL, or
// RememberTTL for remember-me sessions), never past Absolute after its
// creation and never earlier than it was. An expired session stays expired.
//
// The store applies the same rule inside the activity write (for
// atomicity); its tests check the SQL against Extend.
type Rolling struct {
	On                         bool
	TTL, RememberTTL, Absolute time.Duration
}

// Extend returns the expiry of s after activity at at.
func (p Rolling) Extend(s Session, at time.Time) time.Time {
	if !p.On || !s.ExpiresAt.After(at) {
		return s.ExpiresAt
	}
	ttl := p.TTL
	if s.RememberMe {
		ttl = p.RememberTTL
	}
	next := at.Add(ttl)
	if limit := s.CreatedAt.Add(p.Absolute); next.After(limit) {
		next = limit
	}
	if next.Before(s.ExpiresAt) {
		return s.ExpiresAt
	}
	return next
}

// ExpiresAt is the absolute expiry of a session created at now.
func ExpiresAt(now time.Time, rememberMe bool, ttl, rememberTTL time.Duration) time.Time {
	if rememberMe {
		return now.Add(rememberTTL)
	}
	return now.Add(ttl)
}

// Device kinds a user is known by, for new-device detection.
const (
	DeviceAddress   = "ip_address"
	DeviceUserAgent = "user_agent"
)

// IsNewDevice is the new-device rule: a session is flagged when its user
// already had known devices (knownBefore > 0: a first sign-in is not news)
// and the client's address or user agent was not among them (fresh lists
// the kinds that were new).
func IsNewDevice(knownBefore int, fresh []string) bool { return knownBefore > 0 && len(fresh) > 0 }
