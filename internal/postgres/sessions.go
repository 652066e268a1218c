package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sessiongw/sessiongw/internal/session"
)

const sessionCols = `public_id, user_id, created_at, expires_at, last_activity_at, ip_address, last_ip_address, user_agent, remember_me, new_device`

func scanSession(row pgx.Row, extra ...any) (session.Session, error) {
	var ss session.Session
	var id uuid.UUID
	dest := append([]any{&id, &ss.UserID, &ss.CreatedAt, &ss.ExpiresAt, &ss.LastActivityAt, &ss.IPAddress, &ss.LastIPAddress, &ss.UserAgent, &ss.RememberMe, &ss.NewDevice}, extra...)
	if err := row.Scan(dest...); err != nil {
		return session.Session{}, err
	}
	ss.ID = id.String()
	ss.CreatedAt, ss.ExpiresAt, ss.LastActivityAt = ss.CreatedAt.UTC(), ss.ExpiresAt.UTC(), ss.LastActivityAt.UTC()
	return ss, nil
}

// CreateSession implements session.Store.
func (s *Store) CreateSession(ctx context.Context, n session.NewSession) (session.Session, error) {
	var ss session.Session
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// FOR SHARE on the user serialises with deactivation (which updates
		// the row): a session is never created for a user being deactivated.
		row := tx.QueryRow(ctx, `
			WITH u AS (SELECT id FROM users WHERE id = $3 AND is_active FOR SHARE)
			INSERT INTO sessions (token_hash, public_id, user_id, created_at, expires_at, last_activity_at, ip_address, last_ip_address, user_agent, remember_me)
			SELECT $1, $2, u.id, $4, $5, $4, $6, $6, $7, $8 FROM u
			RETURNING `+sessionCols,
			n.Hash[:], n.ID, n.UserID, n.CreatedAt, n.ExpiresAt, n.IPAddress, n.UserAgent, n.RememberMe)
		var err error
		if ss, err = scanSession(row); err != nil {
			return err
		}
		if err := appendAudit(ctx, tx, session.SessionCreatedEntry(ss)); err != nil {
			return err
		}
		ss.NewDevice, err = recordDevices(ctx, tx, ss.UserID, ss.ID, session.Client{IP: ss.IPAddress, UserAgent: ss.UserAgent}, ss.CreatedAt)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.GetUser(ctx, n.UserID); err != nil {
			return session.Session{}, err
		}
		return session.Session{}, &session.ConflictError{Reason: fmt.Sprintf("user %s is inactive", n.UserID)}
	}
	if isUniqueViolation(err) {
		return session.Session{}, &session.ConflictError{Reason: "session already exists"}
	}
	if err != nil {
		return session.Session{}, interpret("create session", err)
	}
	return ss, nil
}

// Restore implements session.Store with one query joining the user.
func (s *Store) Restore(ctx context.Context, h session.Hash) (session.Restored, error) {
	var r session.Restored
	row := s.pool.QueryRow(ctx, `
		SELECT s.public_id, s.user_id, s.created_at, s.expires_at, s.last_activity_at,
		       s.ip_address, s.last_ip_address, s.user_agent, s.remember_me, s.new_device,
		       u.username, u.email, u.is_active, u.roles
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1`, h[:])
	ss, err := scanSession(row, &r.User.Username, &r.User.Email, &r.User.IsActive, &r.User.Roles)
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Restored{}, session.ErrUnauthenticated
	}
	if err != nil {
		return session.Restored{}, interpret("restore", err)
	}
	r.Session = ss
	r.User.ID = ss.UserID
	if r.User.Roles == nil {
		r.User.Roles = []string{}
	}
	return r, nil
}

// DeleteSession implements session.Store (logout).
func (s *Store) DeleteSession(ctx context.Context, h session.Hash) (bool, error) {
	found := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var userID string
		var id uuid.UUID
		err := tx.QueryRow(ctx, `DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id, public_id`, h[:]).Scan(&userID, &id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return appendAudit(ctx, tx, session.LogoutEntry(userID, id.String()))
	})
	if err != nil {
		return false, interpret("delete session", err)
	}
	return found, nil
}

// DeleteSessionByID implements session.Store (revoke one session).
func (s *Store) DeleteSessionByID(ctx context.Context, id string, userID string) (session.Hash, error) {
	var b []byte
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var owner string
		if err := tx.QueryRow(ctx, `
			DELETE FROM sessions WHERE public_id = $1 AND ($2 = '' OR user_id = $2)
			RETURNING token_hash, user_id`, id, userID).Scan(&b, &owner); err != nil {
			return err
		}
		return appendAudit(ctx, tx, session.RevokedEntry(owner, id, session.ActorFrom(ctx).Kind))
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Hash{}, session.ErrSessionNotFound
	}
	if err != nil {
		return session.Hash{}, interpret("delete session by id", err)
	}
	return toHash(b)
}

// DeleteUserSessions implements session.Store.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string, except *session.Hash) ([]session.Hash, error) {
	var keep []byte
	if except != nil {
		keep = except[:]
	}
	var hashes []session.Hash
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR SHARE`, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return session.ErrUserNotFound
		}
		hashes, err = collectHashes(tx.Query(ctx, `
			DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR token_hash <> $2)
			RETURNING token_hash`, userID, keep))
		if err != nil {
			return err
		}
		var keptID string
		if except != nil {
			var kept uuid.UUID
			if err := tx.QueryRow(ctx, `SELECT public_id FROM sessions WHERE token_hash = $1`, keep).Scan(&kept); err == nil {
				keptID = kept.String()
			}
		}
		return appendAudit(ctx, tx, session.RevokedUserSessionsEntry(userID, except != nil, keptID, len(hashes)))
	})
	if errors.Is(err, session.ErrUserNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, interpret("delete user sessions", err)
	}
	return hashes, nil
}

// ListSessions implements session.Store.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]session.Session, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+sessionCols+` FROM sessions
		WHERE user_id = $1 AND expires_at > $2
		ORDER BY created_at DESC, public_id`, userID, now)
	if err != nil {
		return nil, interpret("list sessions", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (session.Session, error) { return scanSession(r) })
	if err != nil {
		return nil, interpret("list sessions", err)
	}
	if list == nil {
		list = []session.Session{}
	}
	return list, nil
}

// DeleteExpired implements session.Store; a batch that deleted anything
// is one sessions.expired_cleanup record.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]session.Hash, error) {
	var hashes []session.Hash
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		hashes, err = collectHashes(tx.Query(ctx, `
			DELETE FROM sessions WHERE token_hash IN (
				SELECT token_hash FROM sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
			RETURNING token_hash`, now, limit))
		if err != nil {
			return err
		}
		if e, ok := session.ExpiredEntry(len(hashes)); ok {
			return appendAudit(ctx, tx, e)
		}
		return nil
	})
	if err != nil {
		return nil, interpret("delete expired", err)
	}
	return hashes, nil
}
