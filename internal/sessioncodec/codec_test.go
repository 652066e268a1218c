package sessioncodec_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/sessioncodec"
)

// FuzzDecode: no input makes Decode panic, and whatever it accepts
// re-encodes to the same value.
func FuzzDecode(f *testing.F) {
	good, err := sessioncodec.Encode(sample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte(`{"i":"b78e32c8-1c73-4b34-b244-ba6ed8fb239b","u":42,"e":1}`)) // the old JSON form
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := sessioncodec.Decode(b)
		if err != nil {
			return
		}
		again, err := sessioncodec.Encode(r)
		if err != nil {
			t.Fatalf("Encode of a decoded entry: %v", err)
		}
		r2, err := sessioncodec.Decode(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("re-decode = %+v, %v; want %+v", r2, err, r)
		}
	})
}

func TestDecodeRejectsDamage(t *testing.T) {
	t.Parallel()
	good, _ := sessioncodec.Encode(sample())
	if len(good) > 160 {
		t.Errorf("encoded entry is %d bytes; want a compact form", len(good))
	}
	for name, b := range map[string][]byte{
		"truncated":     good[:len(good)-1],
		"trailing data": append(append([]byte{}, good...), 0),
		"version 1":     append([]byte{1}, good[1:]...),
		"version 3":     append([]byte{3}, good[1:]...),
		"old JSON":      []byte(`{"i":"b78e32c8-1c73-4b34-b244-ba6ed8fb239b","u":42,"e":1}`),
		"empty":         nil,
	} {
		if _, err := sessioncodec.Decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// sample is a session with every field of the cached form set.
func sample() session.Restored {
	at := time.Date(2026, 12, 3, 9, 30, 0, 654321000, time.UTC)
	return session.Restored{
		Session: session.Session{ID: "0f8d2a4e-5b6c-4d7e-8f90-a1b2c3d4e5f6", UserID: "google-oauth2|1234", CreatedAt: at,
			ExpiresAt: at.Add(720 * time.Hour), LastActivityAt: at.Add(2 * time.Minute), IPAddress: "2001:db8::1",
			UserAgent: "Mozilla/5.0 (Macintosh)", RememberMe: true, NewDevice: true, LastIPAddress: "2001:db8::2",
			AuthenticatedAt: at.Add(-time.Minute), AMR: []string{"webauthn"}, Kind: session.KindSession},
		User: session.User{ID: "google-oauth2|1234", Username: "bob", Email: "bob@example.org", IsActive: true, Roles: []string{"ops"}},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, r := range []session.Restored{sample(), func() session.Restored {
		r := sample()
		r.User.IsActive, r.User.Roles, r.User.Email, r.Session.IPAddress = false, []string{}, "", ""
		return r
	}(), func() session.Restored {
		r := sample()
		r.Session.Kind, r.Session.TokenName, r.Session.AMR = session.KindAPIToken, "deploy bot", []string{}
		return r
	}()} {
		b, err := sessioncodec.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sessioncodec.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("Decode(Encode(r)) = %+v; want %+v", got, r)
		}
	}
}
