package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/webhook"
)

// RevokeOIDC implements session.Store: the token ID is recorded first, so a
// replay is refused and a failed revocation leaves it unrecorded (the
// provider may retry).
func (s *Store) RevokeOIDC(ctx context.Context, l session.IdPLogout) ([]session.Hash, error) {
	var hashes []session.Hash
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			WITH purge AS (DELETE FROM oidc_logout_tokens WHERE expires_at < now())
			INSERT INTO oidc_logout_tokens (iss, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			l.Ref.Issuer, l.TokenID, l.KeepUntil)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return session.ErrLogoutReplayed
		}
		if err := withReason(ctx, tx, webhook.ReasonIdPLogout); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			DELETE FROM sessions WHERE kind = 'session' AND oidc_iss = $1
			  AND (CASE WHEN $3 <> '' THEN oidc_sid = $3 ELSE oidc_sub = $2 END)
			  AND ($3 = '' OR $2 = '' OR oidc_sub = $2)
			RETURNING token_hash, public_id, user_id`, l.Ref.Issuer, l.Ref.Subject, l.Ref.SessionID)
		if err != nil {
			return err
		}
		type gone struct {
			hash   []byte
			id     uuid.UUID
			userID string
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gone, error) {
			var g gone
			return g, r.Scan(&g.hash, &g.id, &g.userID)
		})
		if err != nil {
			return err
		}
		for _, g := range list {
			h, err := toHash(g.hash)
			if err != nil {
				return err
			}
			hashes = append(hashes, h)
			if err := appendAudit(ctx, tx, session.RevokedEntry(g.userID, g.id.String(), session.ActorIdP)); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, session.ErrLogoutReplayed) {
		return nil, err
	}
	if err != nil {
		return nil, interpret("back-channel logout", err)
	}
	return hashes, nil
}
