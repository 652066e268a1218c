package session_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/sessiongw/sessiongw/internal/session"
)

func FuzzParseToken(f *testing.F) {
	for _, s := range []string{
		"3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c", "3F1C2A9E-5B7D-4C1E-9A2B-8D7E6F5A4B3C",
		"3f1c2a9e-5b7d-1c1e-9a2b-8d7e6f5a4b3c", "", "x", "{3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c}",
		"3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3\xff", strings.Repeat("-", 36),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := session.ParseToken(s)
		if err != nil {
			return
		}
		raw := tok.Reveal()
		if raw != strings.ToLower(s) {
			t.Fatalf("ParseToken(%q) = %q; want the input in lower case", s, raw)
		}
		u, perr := uuid.Parse(raw)
		if perr != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("ParseToken accepted %q, which is not a UUID v4 (%v)", s, perr)
		}
		if again, err := session.ParseToken(raw); err != nil || again != tok {
			t.Fatalf("ParseToken is not idempotent on %q", raw)
		}
	})
}
