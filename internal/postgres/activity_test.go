package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

// TestRollingSQLMatchesDomain holds the SQL of the rolling-expiry rule to
// session.Rolling.Extend: the same cases through both the batched and the
// direct activity write.
func TestRollingSQLMatchesDomain(t *testing.T) {
	t.Parallel()
	store, pool := setup(t)
	ctx := context.Background()
	if _, _, _, err := store.UpsertUser(ctx, session.User{ID: "1", Username: "alice", IsActive: true, Roles: []string{}}); err != nil {
		t.Fatal(err)
	}
	p := session.Rolling{On: true, TTL: 24 * time.Hour, RememberTTL: 720 * time.Hour, Absolute: 1000 * time.Hour}
	store.SetRolling(p)
	tests := []struct {
		name       string
		remember   bool
		lifetime   time.Duration // expires_at - created_at
		activityAt time.Duration // after created_at
	}{
		{"Extended", false, 24 * time.Hour, 2 * time.Hour},
		{"RememberMe", true, 720 * time.Hour, 100 * time.Hour},
		{"CappedByAbsolute", true, 720 * time.Hour, 500 * time.Hour},
		{"NeverEarlier", false, 48 * time.Hour, time.Hour},
		{"ExpiredStaysExpired", false, 24 * time.Hour, 25 * time.Hour},
	}
	for _, direct := range []bool{false, true} {
		for _, tt := range tests {
			created := time.Now().UTC().Truncate(time.Microsecond).Add(-1000 * time.Hour)
			tok, s := newSession(t, store, "1", created.Add(tt.lifetime))
			if _, err := pool.Exec(ctx, `UPDATE sessions SET created_at = $2, last_activity_at = $2, remember_me = $3 WHERE public_id = $1`,
				s.ID, created, tt.remember); err != nil {
				t.Fatal(err)
			}
			s.CreatedAt, s.RememberMe = created, tt.remember
			at := created.Add(tt.activityAt)
			if direct {
				if err := store.RecordActivity(ctx, tok.Hash(), at, "", ""); err != nil {
					t.Fatal(err)
				}
			} else if err := store.TouchSessions(ctx, []session.Touch{{SessionID: s.ID, At: at}}); err != nil {
				t.Fatal(err)
			}
			var got time.Time
			if err := pool.QueryRow(ctx, `SELECT expires_at FROM sessions WHERE public_id = $1`, s.ID).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := p.Extend(s, at); !got.Equal(want) {
				t.Errorf("%s (direct %v): SQL expiry +%s; the domain's +%s", tt.name, direct, got.Sub(created), want.Sub(created))
			}
		}
	}
}
