package session

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxUserAgentLen caps stored user agents (longer ones are truncated when
// taken from a header and rejected when sent in a body).
const MaxUserAgentLen = 512

// Session is one login of one user. ID is its public, non-secret handle.
type Session struct {
	ID             string    `json:"id"`
	UserID         int64     `json:"user_id"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	LastActivityAt time.Time `json:"last_activity_at"`
	IPAddress      string    `json:"ip_address"`
	UserAgent      string    `json:"user_agent"`
	RememberMe     bool      `json:"remember_me"`
	// NewDevice is set when the session was created, or saw activity, from
	// a client address or user agent its user had not used before; the
	// holder clears it (DELETE /v1/session/new_device).
	NewDevice bool `json:"new_device"`
}

// User is the application's user as far as sessions are concerned.
type User struct {
	ID       int64    `json:"id"`
	Username string   `json:"username"`
	Email    string   `json:"email"`
	IsActive bool     `json:"is_active"`
	Roles    []string `json:"roles"`
}

// Restored is a session together with its user: what validation returns and
// what the caches hold.
type Restored struct {
	Session Session
	User    User
}

// NewSession is what a Store needs to insert a session.
type NewSession struct {
	Hash       Hash
	ID         string
	UserID     int64
	CreatedAt  time.Time
	ExpiresAt  time.Time
	IPAddress  string
	UserAgent  string
	RememberMe bool
}

// Touch is one coalesced activity update: when, and from which client
// (the first request of the write window).
type Touch struct {
	SessionID string
	At        time.Time
	Client    Client
}

// Client is where a request came from: its address and user agent (empty
// when unknown).
type Client struct {
	IP        string
	UserAgent string
}

// NormalizeIP validates an IP address and returns its canonical text; the
// empty string is allowed and means unknown.
func NormalizeIP(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", Invalid("ip_address", "not an IP address")
	}
	return a.Unmap().String(), nil
}

// ValidateUserAgent rejects user agents that are too long or not UTF-8.
func ValidateUserAgent(s string) error {
	if len(s) > MaxUserAgentLen {
		return Invalid("user_agent", "longer than 512 bytes")
	}
	if !utf8.ValidString(s) {
		return Invalid("user_agent", "not valid UTF-8")
	}
	return nil
}

// TruncateUserAgent makes a header-supplied user agent storable.
func TruncateUserAgent(s string) string {
	s = strings.ToValidUTF8(s, "")
	for len(s) > MaxUserAgentLen {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// ParseSessionID validates a public session id (a UUID) and normalises it.
func ParseSessionID(s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", Invalid("id", "not a session id")
	}
	return u.String(), nil
}

// ValidateUser checks the fields of a user to be stored.
func ValidateUser(u User) error {
	if u.ID <= 0 {
		return Invalid("user_id", "must be a positive integer")
	}
	if strings.TrimSpace(u.Username) == "" {
		return Invalid("username", "is required")
	}
	if len(u.Username) > 256 || !utf8.ValidString(u.Username) {
		return Invalid("username", "must be valid UTF-8 of at most 256 bytes")
	}
	if len(u.Email) > 320 || !utf8.ValidString(u.Email) {
		return Invalid("email", "must be valid UTF-8 of at most 320 bytes")
	}
	if len(u.Roles) > 64 {
		return Invalid("roles", "at most 64 roles")
	}
	for _, r := range u.Roles {
		if r == "" || len(r) > 64 || strings.ContainsAny(r, ", \t\r\n") || !utf8.ValidString(r) {
			return Invalid("roles", "each role must be 1-64 bytes without commas or whitespace")
		}
	}
	return nil
}
