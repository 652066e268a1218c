package session

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
)

// Token is the secret a session holder presents. It is a UUID v4 string in
// lower case. Its String and LogValue methods redact it, so a Token that
// reaches a log line or an error message never shows the secret; use
// Token.Reveal where the raw value must leave the process (the create
// response).
type Token string

// Hash is the SHA-256 of a token: the only form in which a token is stored,
// cached or published.
type Hash [sha256.Size]byte

// NewToken returns a fresh random token (UUID v4 from crypto/rand).
func NewToken() (Token, error) {
	u, err := uuid.NewRandom()
	if err != nil {
		return "", fmt.Errorf("session: new token: %w", err)
	}
	return Token(u.String()), nil
}

// ParseToken checks that s is a well-formed UUID v4 (36 characters, version
// 4, RFC 4122 variant) and returns it normalised to lower case. It does no
// I/O. Any other input returns ErrMalformedToken.
func ParseToken(s string) (Token, error) {
	if len(s) != 36 {
		return "", ErrMalformedToken
	}
	var b [36]byte
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", ErrMalformedToken
			}
			b[i] = c
			continue
		}
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			c += 'a' - 'A'
		default:
			return "", ErrMalformedToken
		}
		b[i] = c
	}
	// Version nibble is the first hex digit of the third group; the variant
	// is the top two bits of the first hex digit of the fourth group (10xx).
	if b[14] != '4' {
		return "", ErrMalformedToken
	}
	switch b[19] {
	case '8', '9', 'a', 'b':
	default:
		return "", ErrMalformedToken
	}
	if string(b[:]) == s { // already canonical: keep the caller's string
		return Token(s), nil
	}
	return Token(b[:]), nil
}

// Hash returns the SHA-256 of the token.
func (t Token) Hash() Hash {
	var buf [36]byte // a parsed token fits: hash it without an allocation
	if len(t) <= len(buf) {
		n := copy(buf[:], t)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(t))
}

// Reveal returns the raw secret. Call it only to hand the token to its holder.
func (t Token) Reveal() string { return string(t) }

// String redacts the token.
func (t Token) String() string { return "[REDACTED]" }

// LogValue redacts the token in slog output.
func (t Token) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// GoString redacts the token in %#v output.
func (t Token) GoString() string { return "session.Token([REDACTED])" }

// String returns the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash decodes a hash from its hex form.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != hex.EncodedLen(len(h)) {
		return h, fmt.Errorf("session: hash %q: wrong length", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("session: hash: %w", err)
	}
	return h, nil
}
