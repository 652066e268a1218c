package session

import (
	"slices"
	"strings"
	"time"
)

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

// Session limit policies (SESSIONGW_SESSION_LIMIT_POLICY): what creating a
// session does when its user already has as many as the limit allows.
const (
	PolicyEvictOldest = "evict_oldest" // revoke the longest-standing sessions
	PolicyEvictIdlest = "evict_idlest" // revoke those with the oldest activity
	PolicyRefuse      = "refuse"       // refuse the new one (ErrSessionLimit)
)

// Limit is the limit on each user's sessions: Default (0: none) unless the
// user overrides it, and the policy when it is reached.
type Limit struct {
	Default int
	Policy  string
}

// For returns the limit of a user with the given override (nil: the
// default); 0 means no limit.
func (l Limit) For(override *int) int {
	if override != nil {
		return *override
	}
	return l.Default
}

// Requirements are what a per-request check may ask beyond a valid session
// (/v1/auth?max_age=&amr=&roles=&roles_match=): a recent enough
// authentication, with every listed method, by a user holding any (or,
// with AllRoles, every) listed role. The zero value asks nothing.
type Requirements struct {
	MaxAge    time.Duration // 0 with HasMaxAge: authenticated this very second
	HasMaxAge bool
	AMR       []string
	Roles     []string
	AllRoles  bool
}

// Empty reports whether q asks nothing.
func (q Requirements) Empty() bool { return !q.HasMaxAge && len(q.AMR) == 0 && len(q.Roles) == 0 }

// Check returns ErrReauthenticationRequired or ErrMissingRole when r does
// not meet q at now.
func (q Requirements) Check(r Restored, now time.Time) error {
	if q.HasMaxAge && now.Sub(r.Session.AuthenticatedAt) > q.MaxAge {
		return ErrReauthenticationRequired
	}
	for _, m := range q.AMR {
		if !slices.Contains(r.Session.AMR, m) {
			return ErrReauthenticationRequired
		}
	}
	if len(q.Roles) == 0 {
		return nil
	}
	held := 0
	for _, role := range q.Roles {
		if slices.Contains(r.User.Roles, role) {
			held++
		}
	}
	if held == 0 || (q.AllRoles && held < len(q.Roles)) {
		return ErrMissingRole
	}
	return nil
}

// ValidateAMR checks authentication method references: at most 16, each
// 1-32 characters of A-Z a-z 0-9 . _ - (RFC 8176 names such as "pwd",
// "otp", "hwk", "mfa").
func ValidateAMR(amr []string) error {
	if len(amr) > 16 {
		return Invalid("amr", "at most 16 methods")
	}
	for _, m := range amr {
		if len(m) == 0 || len(m) > 32 || strings.ContainsFunc(m, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')
		}) {
			return Invalid("amr", "each method must be 1-32 characters of A-Z a-z 0-9 . _ -")
		}
	}
	return nil
}
