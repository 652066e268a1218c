package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/webhook"
)

const userCols = `id, username, email, is_active, roles, max_sessions`

func scanUser(row pgx.Row, extra ...any) (session.User, error) {
	var u session.User
	err := row.Scan(append([]any{&u.ID, &u.Username, &u.Email, &u.IsActive, &u.Roles, &u.MaxSessions}, extra...)...)
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u, err
}

// UpsertUser implements session.Store.
func (s *Store) UpsertUser(ctx context.Context, u session.User) (session.User, bool, []session.Hash, error) {
	var (
		out     session.User
		created bool
		hashes  []session.Hash
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The old row, locked, tells the audit record what changed.
		// (A user created concurrently after this read compares with the
		// empty user: every field it set counts as changed.)
		old, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 FOR UPDATE`, u.ID))
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := withReason(ctx, tx, webhook.ReasonAdmin); err != nil {
			return err
		}
		// xmax = 0 only for a freshly inserted row.
		var err2 error
		out, err2 = scanUser(tx.QueryRow(ctx, `
			INSERT INTO users (id, username, email, is_active, roles, max_sessions)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET
				username = EXCLUDED.username, email = EXCLUDED.email,
				is_active = EXCLUDED.is_active, roles = EXCLUDED.roles, max_sessions = EXCLUDED.max_sessions,
				updated_at = now()
			RETURNING `+userCols+`, (xmax = 0)`, u.ID, u.Username, u.Email, u.IsActive, u.Roles, u.MaxSessions), &created)
		if err2 != nil {
			return err2
		}
		if !created {
			// The user row is locked until commit, and session creation
			// takes a share lock on it, so this list is complete.
			if hashes, err = collectHashes(tx.Query(ctx, `SELECT token_hash FROM sessions WHERE user_id = $1`, u.ID)); err != nil {
				return err
			}
		}
		if e, ok := session.UserChangeEntry(old, created, out, len(hashes)); ok {
			if err := appendAudit(ctx, tx, e); err != nil {
				return err
			}
		}
		if old.IsActive && !out.IsActive {
			return revokeAPITokens(ctx, tx, u.ID)
		}
		return nil
	})
	if isUniqueViolation(err, "users_username_lower_key") {
		return session.User{}, false, nil, &session.ConflictError{Reason: fmt.Sprintf("username %q is taken (usernames are unique regardless of case)", u.Username)}
	}
	if err != nil {
		return session.User{}, false, nil, interpret("upsert user", err)
	}
	return out, created, hashes, nil
}

// GetUser implements session.Store.
func (s *Store) GetUser(ctx context.Context, id string) (session.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return session.User{}, session.ErrUserNotFound
	}
	if err != nil {
		return session.User{}, interpret("get user", err)
	}
	return u, nil
}

// DeleteUser implements session.Store.
func (s *Store) DeleteUser(ctx context.Context, id string) ([]session.Hash, error) {
	var hashes []session.Hash
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return session.ErrUserNotFound
		}
		if err := withReason(ctx, tx, webhook.ReasonUserDeleted); err != nil {
			return err
		}
		hashes, err = collectHashes(tx.Query(ctx, `DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash`, id))
		if err != nil {
			return err
		}
		if err := withReason(ctx, tx, webhook.ReasonAdmin); err != nil { // user.deleted: who did it
			return err
		}
		if _, err = tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return err
		}
		return appendAudit(ctx, tx, session.UserDeletedEntry(id, len(hashes)))
	})
	if errors.Is(err, session.ErrUserNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, interpret("delete user", err)
	}
	return hashes, nil
}

// revokeAPITokens deletes a deactivated user's API tokens (their hashes are
// among those UpsertUser returns for invalidation).
func revokeAPITokens(ctx context.Context, tx pgx.Tx, userID string) error {
	rows, err := tx.Query(ctx, `DELETE FROM sessions WHERE user_id = $1 AND kind = 'api' RETURNING public_id`, userID)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := appendAudit(ctx, tx, session.APITokenRevokedEntry(userID, id.String(), "user_deactivated")); err != nil {
			return err
		}
	}
	return nil
}
