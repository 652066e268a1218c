package session_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sessiongw/sessiongw/internal/session"
)

func TestParseUserID(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"42", "0", "b78e32c8-1c73-4b34-b244-ba6ed8fb239b", "auth0|5f7c8ec7c33c6c004bbafe82", "google-oauth2|1234",
		"user@example.com", "a.b_c:d+e", strings.Repeat("x", 128)} {
		if got, err := session.ParseUserID(ok); err != nil || got != ok {
			t.Errorf("ParseUserID(%q) = %q, %v; want it unchanged", ok, got, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 129), "a b", "a/b", "a\x00", "é", "a,b", "a\nb", "<script>"} {
		if _, err := session.ParseUserID(bad); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("ParseUserID(%q) = %v; want ErrInvalid", bad, err)
		}
	}
}

func TestNormalizeUser(t *testing.T) {
	t.Parallel()
	base := session.User{ID: "1", Username: "alice", Email: "a@example.com", Roles: []string{"admin"}}
	with := func(f func(*session.User)) session.User {
		u := base
		u.Roles = append([]string(nil), base.Roles...)
		f(&u)
		return u
	}
	bad := []struct {
		name, field string
		u           session.User
	}{
		{"BadID", "user_id", with(func(u *session.User) { u.ID = "a b" })},
		{"NoUsername", "username", with(func(u *session.User) { u.Username = "" })},
		{"TrailingSpace", "username", with(func(u *session.User) { u.Username = "admin " })},
		{"LeadingSpace", "username", with(func(u *session.User) { u.Username = " admin" })},
		{"TrailingNewline", "username", with(func(u *session.User) { u.Username = "admin\n" })},
		{"TrailingTab", "username", with(func(u *session.User) { u.Username = "admin\t" })},
		{"NoBreakSpace", "username", with(func(u *session.User) { u.Username = "admin\u00a0" })},
		{"IdeographicSpace", "username", with(func(u *session.User) { u.Username = "\u3000admin" })},
		{"NUL", "username", with(func(u *session.User) { u.Username = "ad\x00min" })},
		{"BidiOverride", "username", with(func(u *session.User) { u.Username = "admin\u202egpj" })},
		{"ZeroWidthSpace", "username", with(func(u *session.User) { u.Username = "ad\u200bmin" })},
		{"TooLong", "username", with(func(u *session.User) { u.Username = strings.Repeat("a", 257) })},
		{"NotUTF8", "username", with(func(u *session.User) { u.Username = "\xff" })},
		{"EmailNUL", "email", with(func(u *session.User) { u.Email = "a\x00@example.com" })},
		{"EmailSpace", "email", with(func(u *session.User) { u.Email = " a@example.com" })},
		{"RoleComma", "roles", with(func(u *session.User) { u.Roles = []string{"a,b"} })},
		{"RoleEmpty", "roles", with(func(u *session.User) { u.Roles = []string{""} })},
		{"RoleVerticalTab", "roles", with(func(u *session.User) { u.Roles = []string{"ro\u000ble"} })},
		{"RoleDEL", "roles", with(func(u *session.User) { u.Roles = []string{"x\u007f"} })},
		{"RoleNoBreakSpace", "roles", with(func(u *session.User) { u.Roles = []string{"admin\u00a0"} })},
		{"RoleInnerSpace", "roles", with(func(u *session.User) { u.Roles = []string{"ad min"} })},
		{"RoleNUL", "roles", with(func(u *session.User) { u.Roles = []string{"\x00"} })},
		{"TooManyRoles", "roles", with(func(u *session.User) { u.Roles = strings.Split(strings.Repeat("r,", 65)[:129], ",") })},
	}
	for _, tt := range bad {
		_, err := session.NormalizeUser(tt.u)
		var ie *session.InvalidError
		if !errors.As(err, &ie) || ie.Field != tt.field {
			t.Errorf("%s: NormalizeUser = %v; want an invalid %s", tt.name, err, tt.field)
		}
	}
	// NFC: a decomposed é is stored composed, so two spellings are one name.
	u, err := session.NormalizeUser(with(func(u *session.User) { u.Username = "Rene\u0301"; u.Roles = []string{"e\u0301diteur"} }))
	if err != nil || u.Username != "Ren\u00e9" || u.Roles[0] != "\u00e9diteur" {
		t.Errorf("NormalizeUser(decomposed) = %q %q, %v; want NFC", u.Username, u.Roles, err)
	}
	if _, err := session.NormalizeUser(with(func(u *session.User) { u.Username = "Zoë Ålänð 名前" })); err != nil {
		t.Errorf("a name in other scripts: %v", err)
	}
}
