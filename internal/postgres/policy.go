package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/webhook"
)

// RotateSession implements session.Store: the row keeps its public id,
// times and devices-list place; only the token hash changes. The update
// trigger writes the old hash to the outbox, like any change a cache must
// drop.
func (s *Store) RotateSession(ctx context.Context, id string, old *session.Hash, next session.Hash) (session.Session, session.Hash, error) {
	var (
		ss       session.Session
		replaced []byte
	)
	var oldArg []byte
	if old != nil {
		oldArg = old[:]
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			SELECT token_hash FROM sessions WHERE public_id = $1 AND kind = 'session' AND ($2::bytea IS NULL OR token_hash = $2)
			FOR UPDATE`, id, oldArg).Scan(&replaced); err != nil {
			return err
		}
		if err := withReason(ctx, tx, webhook.ReasonRotated); err != nil {
			return err
		}
		var err error
		ss, err = scanSession(tx.QueryRow(ctx, `UPDATE sessions SET token_hash = $2 WHERE token_hash = $1 RETURNING `+sessionCols, replaced, next[:]))
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, session.SessionRotatedEntry(ss.UserID, ss.ID))
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Session{}, session.Hash{}, session.ErrSessionNotFound
	}
	if err != nil {
		return session.Session{}, session.Hash{}, interpret("rotate session", err)
	}
	h, err := toHash(replaced)
	return ss, h, err
}

// Reauthenticate implements session.Store.
func (s *Store) Reauthenticate(ctx context.Context, id string, at time.Time, amr []string) (session.Session, session.Hash, error) {
	var (
		ss session.Session
		b  []byte
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		ss, err = scanSession(tx.QueryRow(ctx, `
			UPDATE sessions SET authenticated_at = $2, amr = $3 WHERE public_id = $1 AND kind = 'session'
			RETURNING `+sessionCols+`, token_hash`, id, at, amr), &b)
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, session.ReauthenticatedEntry(ss.UserID, ss.ID, amr))
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Session{}, session.Hash{}, session.ErrSessionNotFound
	}
	if err != nil {
		return session.Session{}, session.Hash{}, interpret("reauthenticate", err)
	}
	h, err := toHash(b)
	return ss, h, err
}

// ListAPITokens implements session.Store.
func (s *Store) ListAPITokens(ctx context.Context, userID string, now time.Time) ([]session.APIToken, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT public_id, user_id, name, created_at, expires_at, last_activity_at, token_roles FROM sessions
		WHERE user_id = $1 AND kind = 'api' AND expires_at > $2
		ORDER BY created_at DESC, public_id`, userID, now)
	if err != nil {
		return nil, interpret("list API tokens", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (session.APIToken, error) {
		var t session.APIToken
		var id uuid.UUID
		var used time.Time
		if err := r.Scan(&id, &t.UserID, &t.Name, &t.CreatedAt, &t.ExpiresAt, &used, &t.Roles); err != nil {
			return t, err
		}
		t.ID, t.CreatedAt, t.ExpiresAt = id.String(), t.CreatedAt.UTC(), t.ExpiresAt.UTC()
		if used.After(t.CreatedAt) {
			used = used.UTC()
			t.LastUsedAt = &used
		}
		return t, nil
	})
	if err != nil {
		return nil, interpret("list API tokens", err)
	}
	if list == nil {
		list = []session.APIToken{}
	}
	return list, nil
}

// DeleteAPIToken implements session.Store.
func (s *Store) DeleteAPIToken(ctx context.Context, id string) (session.Hash, error) {
	var b []byte
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var userID string
		if err := tx.QueryRow(ctx, `DELETE FROM sessions WHERE public_id = $1 AND kind = 'api' RETURNING token_hash, user_id`, id).Scan(&b, &userID); err != nil {
			return err
		}
		return appendAudit(ctx, tx, session.APITokenRevokedEntry(userID, id, "admin"))
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Hash{}, session.ErrTokenNotFound
	}
	if err != nil {
		return session.Hash{}, interpret("delete API token", err)
	}
	return toHash(b)
}
