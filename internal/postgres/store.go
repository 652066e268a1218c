// Package postgres is the source of truth: users and sessions in PostgreSQL
// through a pgx pool, with embedded migrations. One file per entity:
// users.go, sessions.go (logins.go: the group commit of logins),
// activity.go (batched activity and new devices), stats.go, audit.go,
// outbox.go.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/maypok86/otter/v2"

	"github.com/sessiongw/sessiongw/internal/groupcommit"
	"github.com/sessiongw/sessiongw/internal/session"
)

// Store implements session.Store on a pgx pool.
type Store struct {
	pool    *pgxpool.Pool
	rolling session.Rolling
	// known remembers, for an hour, devices this replica has seen its
	// users use, so activity from them costs no detection queries.
	known *otter.Cache[deviceKey, struct{}]
	// origin names this replica in the outbox entries of the changes it
	// propagates itself (logouts); "" leaves them to the relays.
	origin string
	// logins gathers concurrent logins into batches (logins.go);
	// beforeLoginBatch, when set (tests), runs before each batch with its
	// size.
	logins           *groupcommit.Queue[*loginCall]
	beforeLoginBatch func(n int)
}

var _ session.Store = (*Store)(nil)

// SetOrigin makes the outbox entries of logouts this replica's own (id
// names it, for operators reading the outbox): it propagates them itself
// and marks them done, and the relays leave them alone meanwhile. Call it
// before the store is used.
func (s *Store) SetOrigin(id string) { s.origin = id }

// NewStore returns a Store using pool.
func NewStore(pool *pgxpool.Pool) *Store {
	s := &Store{pool: pool, known: newKnownDevices()}
	s.logins = groupcommit.New(maxLoginBatch, s.writeLoginBatch)
	return s
}

// SetRolling sets the rolling-expiry policy (off by default).
func (s *Store) SetRolling(r session.Rolling) { s.rolling = r }

// Connect opens a pool for dsn and checks that it answers. A non-nil tracer
// sees every query (tests count them with it).
func Connect(ctx context.Context, dsn string, tracer ...pgx.QueryTracer) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may include the DSN (and its password): keep it out.
		return nil, errors.New("postgres: database URL is not valid")
	}
	if len(tracer) > 0 && tracer[0] != nil {
		cfg.ConnConfig.Tracer = tracer[0]
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, interpret("connect", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, interpret("connect", err)
	}
	return pool, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return interpret("ping", s.pool.Ping(ctx)) }

func collectHashes(rows pgx.Rows, err error) ([]session.Hash, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (session.Hash, error) {
		var b []byte
		if err := r.Scan(&b); err != nil {
			return session.Hash{}, err
		}
		return toHash(b)
	})
}

func toHash(b []byte) (session.Hash, error) {
	var h session.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("postgres: token hash has %d bytes", len(b))
	}
	copy(h[:], b)
	return h, nil
}
