package session_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"bytes"

	"github.com/sessiongw/sessiongw/internal/session"
)

func TestParseToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" means ErrMalformedToken
	}{
		{"3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c", "3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c"},
		{"3F1C2A9E-5B7D-4C1E-9A2B-8D7E6F5A4B3C", "3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c"},
		{"3f1c2a9e-5b7d-4c1e-Ba2b-8d7e6f5a4b3c", "3f1c2a9e-5b7d-4c1e-ba2b-8d7e6f5a4b3c"},
		{"3f1c2a9e-5b7d-1c1e-9a2b-8d7e6f5a4b3c", ""},   // version 1
		{"3f1c2a9e-5b7d-4c1e-7a2b-8d7e6f5a4b3c", ""},   // NCS variant
		{"3f1c2a9e-5b7d-4c1e-ca2b-8d7e6f5a4b3c", ""},   // Microsoft variant
		{"3f1c2a9e5b7d4c1e9a2b8d7e6f5a4b3c", ""},       // no dashes
		{"{3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c}", ""}, // braces
		{"urn:uuid:3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c", ""},
		{" 3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3", ""},
		{"3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3g", ""},
		{"3f1c2a9e_5b7d-4c1e-9a2b-8d7e6f5a4b3c", ""},
		{"", ""},
		{strings.Repeat("a", 4096), ""},
	}
	for _, tt := range tests {
		got, err := session.ParseToken(tt.in)
		if tt.want == "" {
			if !errors.Is(err, session.ErrMalformedToken) {
				t.Errorf("ParseToken(%q) error = %v; want ErrMalformedToken", tt.in, err)
			}
			continue
		}
		if err != nil || got.Reveal() != tt.want {
			t.Errorf("ParseToken(%q) = %q, %v; want %q", tt.in, got.Reveal(), err, tt.want)
		}
	}
}

func TestNewTokenIsParseableV4(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		tok, err := session.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		got, err := session.ParseToken(tok.Reveal())
		if err != nil || got != tok {
			t.Fatalf("ParseToken(NewToken()) = %v; want the same token", err)
		}
		if seen[tok.Reveal()] {
			t.Fatal("NewToken repeated a token")
		}
		seen[tok.Reveal()] = true
	}
}

func TestHashIsCaseInsensitiveThroughParse(t *testing.T) {
	t.Parallel()
	a, _ := session.ParseToken("3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c")
	b, _ := session.ParseToken("3F1C2A9E-5B7D-4C1E-9A2B-8D7E6F5A4B3C")
	if a.Hash() != b.Hash() {
		t.Fatal("hashes of the same token in two cases differ")
	}
	h, err := session.ParseHash(a.Hash().String())
	if err != nil || h != a.Hash() {
		t.Fatalf("ParseHash(Hash.String()) = %v, %v", h, err)
	}
}

func TestTokenIsRedacted(t *testing.T) {
	t.Parallel()
	tok, _ := session.NewToken()
	raw := tok.Reveal()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "token", tok)
	outs := []string{fmt.Sprint(tok), fmt.Sprintf("%v %s %#v %+v", tok, tok, tok, tok), buf.String(),
		fmt.Errorf("wrapped: %v", tok).Error()}
	for _, o := range outs {
		if strings.Contains(o, raw) {
			t.Errorf("formatted token leaks the secret: %q", o)
		}
	}
}

func TestExpiresAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		remember bool
		want     time.Time
	}{
		{false, time.Date(2026, 3, 29, 23, 30, 0, 0, time.UTC)},
		{true, time.Date(2026, 4, 27, 23, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := session.ExpiresAt(now, tt.remember, 24*time.Hour, 720*time.Hour); !got.Equal(tt.want) {
			t.Errorf("ExpiresAt(remember=%v) = %v; want %v", tt.remember, got, tt.want)
		}
	}
}

func TestInputValidation(t *testing.T) {
	t.Parallel()
	if ip, err := session.NormalizeIP("::ffff:10.0.0.1"); err != nil || ip != "10.0.0.1" {
		t.Errorf("NormalizeIP(mapped) = %q, %v; want 10.0.0.1", ip, err)
	}
	if _, err := session.NormalizeIP("10.0.0.300"); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("NormalizeIP(bad) = %v; want ErrInvalid", err)
	}
	if err := session.ValidateUserAgent(strings.Repeat("x", 513)); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("ValidateUserAgent(513 bytes) = %v; want ErrInvalid", err)
	}
	if got := session.TruncateUserAgent(strings.Repeat("é", 400)); len(got) > session.MaxUserAgentLen || !strings.HasPrefix(got, "é") {
		t.Errorf("TruncateUserAgent kept %d bytes", len(got))
	}
	if _, err := session.ParseSessionID("not-a-uuid"); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("ParseSessionID(bad) = %v; want ErrInvalid", err)
	}
}

func BenchmarkParseAndHash(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		t, err := session.ParseToken("3F1C2A9E-5B7D-4C1E-9A2B-8D7E6F5A4B3C")
		if err != nil {
			b.Fatal(err)
		}
		_ = t.Hash()
	}
}
