package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// The identity JWT's generated signing keys (internal/idtoken), shared by
// every replica.

// IdentityKeys implements idtoken.KeyStore.
func (s *Store) IdentityKeys(ctx context.Context) ([][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT private_der FROM identity_jwt_keys ORDER BY created_at DESC, kid`)
	if err != nil {
		return nil, interpret("identity keys", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	return keys, interpret("identity keys", err)
}

// AddIdentityKey implements idtoken.KeyStore.
func (s *Store) AddIdentityKey(ctx context.Context, kid string, pkcs8 []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO identity_jwt_keys (kid, private_der) VALUES ($1, $2) ON CONFLICT DO NOTHING`, kid, pkcs8)
	return interpret("add identity key", err)
}
