package session_test

import (
	"errors"
	"reflect"
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

// FuzzNormalizeUser: whatever it accepts is safe to send as an HTTP header
// value and stable (normalising again changes nothing); it never panics.
func FuzzNormalizeUser(f *testing.F) {
	f.Add("42", "alice", "a@example.com", "admin")
	f.Add("auth0|5f7c", "admin\u00a0", "", "ro\u000ble")
	f.Add("1", "Rene\u0301", "x\x00y", "a,b")
	f.Add("", "\u202eadmin", "e", "x\u007f")
	f.Fuzz(func(t *testing.T, id, username, email, role string) {
		u, err := session.NormalizeUser(session.User{ID: id, Username: username, Email: email, Roles: []string{role}})
		if err != nil {
			if !errors.Is(err, session.ErrInvalid) {
				t.Fatalf("NormalizeUser error %v is not ErrInvalid", err)
			}
			return
		}
		for _, v := range []string{u.ID, u.Username, u.Email, u.Roles[0]} {
			for _, c := range []byte(v) {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("accepted %q with byte %#x", v, c)
				}
			}
			if strings.TrimSpace(v) != v {
				t.Fatalf("accepted %q with surrounding whitespace", v)
			}
		}
		if strings.Contains(u.Roles[0], ",") {
			t.Fatalf("accepted role %q with a comma", u.Roles[0])
		}
		again, err := session.NormalizeUser(u)
		if err != nil || !reflect.DeepEqual(again, u) {
			t.Fatalf("normalising %+v again = %+v, %v", u, again, err)
		}
	})
}
