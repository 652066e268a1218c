package session

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxUserIDLen bounds a user id.
const MaxUserIDLen = 128

// ParseUserID checks a user id: an opaque string of 1-128 bytes of
// A-Z a-z 0-9 - _ . : @ | + (integers, UUIDs, "auth0|5f7c…",
// "google-oauth2|1234" all qualify). It does no I/O.
func ParseUserID(s string) (string, error) {
	if len(s) == 0 || len(s) > MaxUserIDLen {
		return "", Invalid("user_id", "must be 1-128 characters")
	}
	for i := 0; i < len(s); i++ {
		if !userIDByte(s[i]) {
			return "", Invalid("user_id", "may contain only A-Z a-z 0-9 - _ . : @ | +")
		}
	}
	return s, nil
}

func userIDByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.:@|+", c) >= 0
}

// NormalizeUser checks the fields of a user to be stored and returns them
// in the form stored: NFC-normalised. Identity values reach upstream apps
// as HTTP headers and are compared by people, so none may hold a control
// or invisible formatting character (which proxies reject or render
// differently), nor start or end with whitespace of any kind ("admin " and
// "admin" must not be two users); roles also hold no whitespace or commas
// (the roles header is comma-separated).
func NormalizeUser(u User) (User, error) {
	id, err := ParseUserID(u.ID)
	if err != nil {
		return User{}, err
	}
	u.ID = id
	if u.Username, err = identityText("username", u.Username, 256); err != nil {
		return User{}, err
	}
	if u.Username == "" {
		return User{}, Invalid("username", "is required")
	}
	if u.Email, err = identityText("email", u.Email, 320); err != nil {
		return User{}, err
	}
	if len(u.Roles) > 64 {
		return User{}, Invalid("roles", "at most 64 roles")
	}
	roles := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		r, err := identityText("roles", r, 64)
		if err != nil {
			return User{}, err
		}
		if r == "" || strings.ContainsFunc(r, func(c rune) bool { return c == ',' || unicode.IsSpace(c) }) {
			return User{}, Invalid("roles", "each role must be 1-64 bytes without commas or whitespace")
		}
		roles[i] = r
	}
	u.Roles = roles
	if u.MaxSessions != nil && (*u.MaxSessions < 0 || *u.MaxSessions > MaxSessionLimit) {
		return User{}, Invalid("max_sessions", "must be null (the default), 0 (no limit) or up to 10000")
	}
	return u, nil
}

// MaxSessionLimit bounds a session limit.
const MaxSessionLimit = 10000

// identityText validates one identity value and returns it NFC-normalised.
func identityText(field, s string, maxLen int) (string, error) {
	if !utf8.ValidString(s) {
		return "", Invalid(field, "must be valid UTF-8")
	}
	s = norm.NFC.String(s)
	if len(s) > maxLen {
		return "", Invalid(field, "must be at most "+strconv.Itoa(maxLen)+" bytes")
	}
	if strings.IndexFunc(s, unsafeRune) >= 0 {
		return "", Invalid(field, "must not contain control or invisible formatting characters")
	}
	if s != strings.TrimFunc(s, unicode.IsSpace) {
		return "", Invalid(field, "must not start or end with whitespace")
	}
	return s, nil
}

// unsafeRune: control characters (NUL, CR, LF, DEL, C1 …), the line and
// paragraph separators, and format characters (bidirectional overrides,
// zero-width spaces and joiners, soft hyphens …), which change how a name
// reads without being seen.
func unsafeRune(c rune) bool {
	return unicode.IsControl(c) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp)
}

// cleanClientText is the rule for text a client supplies about itself (a
// user agent): valid UTF-8, no control or formatting characters.
func cleanClientText(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unsafeRune) < 0
}
