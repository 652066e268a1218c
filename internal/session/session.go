package session

import (
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxUserAgentLen caps stored user agents (longer ones are truncated when
// taken from a header and rejected when sent in a body).
const MaxUserAgentLen = 512

// Kinds of credential: a login (session) or a named API token. Both are
// validated, cached and invalidated alike.
const (
	KindSession  = "session"
	KindAPIToken = "api"
)

// Session is one login of one user (or, with Kind KindAPIToken, one named
// API token). ID is its public, non-secret handle.
type Session struct {
	ID             string    `json:"id"`
	UserID         string    `json:"user_id"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	LastActivityAt time.Time `json:"last_activity_at"`
	// IPAddress is where the session signed in (or last reported itself
	// through POST /v1/session/activity); LastIPAddress is where it was
	// last used from, written with the batched activity.
	IPAddress     string `json:"ip_address"`
	LastIPAddress string `json:"last_ip_address"`
	UserAgent     string `json:"user_agent"`
	RememberMe    bool   `json:"remember_me"`
	// NewDevice is set when the session was created, or saw activity, from
	// a client address or user agent its user had not used before; the
	// holder clears it (DELETE /v1/session/new_device).
	NewDevice bool `json:"new_device"`
	// AuthenticatedAt is when the user last proved who they are (at login,
	// or a later re-authentication); AMR names how (e.g. "pwd", "otp").
	AuthenticatedAt time.Time `json:"authenticated_at"`
	AMR             []string  `json:"amr"`
	// Kind is KindSession or KindAPIToken; TokenName names an API token.
	Kind      string `json:"-"`
	TokenName string `json:"-"`
}

// IsAPIToken reports whether the credential is a named API token.
func (s Session) IsAPIToken() bool { return s.Kind == KindAPIToken }

// User is the application's user as far as sessions are concerned.
type User struct {
	ID       string   `json:"id"` // opaque, see ParseUserID
	Username string   `json:"username"`
	Email    string   `json:"email"`
	IsActive bool     `json:"is_active"`
	Roles    []string `json:"roles"`
	// MaxSessions overrides the default limit on the user's sessions (nil:
	// the default; 0: no limit).
	MaxSessions *int `json:"max_sessions"`
}

// Restored is a session together with its user: what validation returns and
// what the caches hold.
type Restored struct {
	Session Session
	User    User
	// Memo is nil, except on an answer from the in-process cache, where it
	// is that cache entry's own slot (see Memo).
	Memo *Memo `json:"-"`
}

// Memo is a slot for what an adapter derives from one cached answer (the
// HTTP layer keeps the identity headers it rendered from it there), so the
// work is done once per cache fill rather than once per request. The
// in-process cache gives each entry a new one, so what is kept lives and
// dies with the entry: an invalidation or a refill drops both. Store
// values of one type only (it is an atomic.Value); a nil Memo loads nil
// and ignores stores.
type Memo struct{ v atomic.Value }

// Load returns what was stored, or nil.
func (m *Memo) Load() any {
	if m == nil {
		return nil
	}
	return m.v.Load()
}

// Store keeps v (replacing what was there).
func (m *Memo) Store(v any) {
	if m != nil {
		m.v.Store(v)
	}
}

// NewSession is what a Store needs to insert a session or API token.
type NewSession struct {
	Hash            Hash
	ID              string
	UserID          string
	CreatedAt       time.Time
	ExpiresAt       time.Time
	IPAddress       string
	UserAgent       string
	RememberMe      bool
	AuthenticatedAt time.Time
	AMR             []string
	// Kind is KindSession (the default when empty) or KindAPIToken, which
	// has Name and, when not nil, TokenRoles narrowing the user's roles.
	Kind       string
	Name       string
	TokenRoles []string
	// OIDC, when set, are the identity provider's references of the
	// session, for back-channel logout.
	OIDC *OIDCRef
}

// OIDCRef names a session at an OpenID Connect provider: its issuer, the
// user's subject there, and (when the provider has one) its session id.
type OIDCRef struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	SessionID string `json:"sid,omitempty"`
}

// Evicted is a session removed to make room under the session limit.
type Evicted struct {
	Hash Hash
	ID   string
}

// APIToken is a named API token as listed (never its secret).
type APIToken struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// LastUsedAt is the latest recorded use (batched like session
	// activity); nil until the first.
	LastUsedAt *time.Time `json:"last_used_at"`
	// Roles are the token's own roles (nil: the user's roles).
	Roles []string `json:"roles"`
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

// ValidateUserAgent rejects user agents that are too long, not UTF-8, or
// hold control characters (NUL among them: Postgres refuses it).
func ValidateUserAgent(s string) error {
	if len(s) > MaxUserAgentLen {
		return Invalid("user_agent", "longer than 512 bytes")
	}
	if !cleanClientText(s) {
		return Invalid("user_agent", "must be valid UTF-8 without control characters")
	}
	return nil
}

// TruncateUserAgent makes a header-supplied user agent storable: valid
// UTF-8 without control or formatting characters, at most 512 bytes.
func TruncateUserAgent(s string) string {
	s = strings.ToValidUTF8(s, "")
	if !cleanClientText(s) {
		s = strings.Map(func(c rune) rune {
			if unsafeRune(c) {
				return -1
			}
			return c
		}, s)
	}
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
