package postgres

import (
	"context"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

// SessionStats implements session.Store with one aggregate query.
func (s *Store) SessionStats(ctx context.Context, userID string, now time.Time) (session.Stats, error) {
	var st session.Stats
	err := s.pool.QueryRow(ctx, `
		SELECT count(*),
		       count(DISTINCT NULLIF(user_agent, '')),
		       count(DISTINCT NULLIF(ip_address, '')),
		       min(created_at), max(created_at), max(last_activity_at)
		FROM sessions WHERE user_id = $1 AND kind = 'session' AND expires_at > $2`, userID, now).
		Scan(&st.ActiveSessions, &st.DistinctDevices, &st.DistinctAddresses,
			&st.OldestSessionAt, &st.NewestSessionAt, &st.LastActivityAt)
	if err != nil {
		return session.Stats{}, interpret("session stats", err)
	}
	for _, t := range []*time.Time{st.OldestSessionAt, st.NewestSessionAt, st.LastActivityAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return st, nil
}
