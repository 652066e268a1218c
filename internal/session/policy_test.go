package session_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

func TestRequirementsCheck(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r := session.Restored{
		Session: session.Session{AuthenticatedAt: now.Add(-10 * time.Minute), AMR: []string{"pwd", "otp"}},
		User:    session.User{Roles: []string{"admin", "dev"}},
	}
	tests := []struct {
		name string
		q    session.Requirements
		want error
	}{
		{"Nothing", session.Requirements{}, nil},
		{"FreshEnough", session.Requirements{HasMaxAge: true, MaxAge: 15 * time.Minute}, nil},
		{"ErrTooOld", session.Requirements{HasMaxAge: true, MaxAge: 5 * time.Minute}, session.ErrReauthenticationRequired},
		{"ErrMaxAgeZero", session.Requirements{HasMaxAge: true}, session.ErrReauthenticationRequired},
		{"Methods", session.Requirements{AMR: []string{"otp", "pwd"}}, nil},
		{"ErrMethod", session.Requirements{AMR: []string{"hwk"}}, session.ErrReauthenticationRequired},
		{"AnyRole", session.Requirements{Roles: []string{"ops", "dev"}}, nil},
		{"ErrNoRole", session.Requirements{Roles: []string{"ops"}}, session.ErrMissingRole},
		{"AllRoles", session.Requirements{Roles: []string{"admin", "dev"}, AllRoles: true}, nil},
		{"ErrNotAllRoles", session.Requirements{Roles: []string{"admin", "ops"}, AllRoles: true}, session.ErrMissingRole},
	}
	for _, tt := range tests {
		if err := tt.q.Check(r, now); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("%s: Check = %v; want %v", tt.name, err, tt.want)
		}
	}
}

func TestLimitFor(t *testing.T) {
	t.Parallel()
	zero, three := 0, 3
	l := session.Limit{Default: 5}
	if l.For(nil) != 5 || l.For(&three) != 3 || l.For(&zero) != 0 {
		t.Errorf("For: %d %d %d; want 5 (default), 3 (override), 0 (no limit)", l.For(nil), l.For(&three), l.For(&zero))
	}
}

func TestCreateSessionAtTheLimit(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{session.PolicyEvictOldest, session.PolicyRefuse} {
		w, r := setup(t, func(o *session.Options) { o.Limit = session.Limit{Default: 2, Policy: policy} })
		other := w.replica(t)
		first := login(t, r, "1", false)
		w.clk.Advance(time.Second)
		login(t, r, "1", false)
		if _, err := validate(other, first); err != nil { // cached on the other replica
			t.Fatal(err)
		}
		c, err := r.svc.CreateSession(context.Background(), session.CreateParams{UserID: "1"})
		switch policy {
		case session.PolicyRefuse:
			wantErr(t, "refuse at the limit", err, session.ErrSessionLimit)
		default:
			if err != nil || len(c.Evicted) != 1 {
				t.Fatalf("evict_oldest: %+v, %v; want one eviction", c, err)
			}
			_, err := validate(other, first)
			wantErr(t, "the evicted session on the other replica", err, session.ErrUnauthenticated)
			if !slices.Contains(w.bus.publishedHashes(), first.Hash()) {
				t.Error("the eviction was not published")
			}
		}
	}
}

func TestAuthorizeAPITokensOnlyAsBearer(t *testing.T) {
	t.Parallel()
	_, r := setup(t)
	ctx := context.Background()
	tok, _, err := r.svc.CreateAPIToken(ctx, "1", session.APITokenParams{Name: "ci", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Authorize(ctx, tok, session.Client{}, session.FromBearer); err != nil {
		t.Errorf("token as bearer: %v", err)
	}
	for _, from := range []session.Source{session.FromCookie, session.FromHeader} {
		_, err := r.svc.Authorize(ctx, tok, session.Client{}, from)
		wantErr(t, "token from another source", err, session.ErrUnauthenticated)
	}
	_, err = r.svc.ListOwn(ctx, tok, session.Client{})
	wantErr(t, "token on a holder endpoint", err, session.ErrUnauthenticated)
	if _, _, err := r.svc.CreateAPIToken(ctx, "1", session.APITokenParams{Name: "x", Roles: []string{"root"}}); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("a role the user lacks: %v; want ErrInvalid", err)
	}
}

func TestRotateKeepsTheSession(t *testing.T) {
	t.Parallel()
	w, r := setup(t)
	other := w.replica(t)
	ctx := context.Background()
	old := login(t, r, "1", true)
	before, _ := validate(other, old)
	next, ss, err := r.svc.Rotate(ctx, old, session.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if ss.ID != before.Session.ID || !ss.ExpiresAt.Equal(before.Session.ExpiresAt) {
		t.Errorf("rotated %+v; want the same id and expiry as %+v", ss, before.Session)
	}
	_, err = validate(other, old)
	wantErr(t, "the old token on the other replica", err, session.ErrUnauthenticated)
	if _, err := validate(other, next); err != nil {
		t.Errorf("the new token: %v", err)
	}
}
