package postgres_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
)

// oldSchema returns a pool on a fresh schema migrated to version 5, the
// last one with integer user ids.
func oldSchema(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Connect(ctx, pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := postgres.MigrateTo(ctx, pool, 5); err != nil {
		t.Fatal(err)
	}
	return pool
}

// TestMigrationToStringUserIDs populates a database of the previous schema
// (bigint user ids everywhere, an audit chain hashed with them) and checks
// that migrating keeps every row, turns the ids into their decimal text,
// keeps the foreign keys working and the audit chain verifying.
func TestMigrationToStringUserIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := oldSchema(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO users (id, username, email, roles) VALUES (42, 'alice', 'a@example.com', '{admin}'), (9000000000, 'bob', '', '{}')`)
	tokens := make([]session.Token, 3)
	for i, uid := range []int64{42, 42, 9000000000} {
		tokens[i], _ = session.NewToken()
		h := tokens[i].Hash()
		exec(`INSERT INTO sessions (token_hash, public_id, user_id, created_at, expires_at, last_activity_at) VALUES ($1, gen_random_uuid(), $2, $3, $4, $3)`,
			h[:], uid, now, now.Add(time.Hour))
	}
	exec(`INSERT INTO user_devices (user_id, kind, value, first_seen, last_seen) VALUES (42, 'ip_address', '192.0.2.1', $1, $1)`, now)
	// An audit chain as the previous gateway wrote it: integer user ids,
	// hashed as their decimal text.
	prev := session.GenesisHash
	for i, uid := range []int64{42, 0, 9000000000} {
		r := session.AuditRecord{Seq: int64(i + 1), At: now, Event: session.EventSessionCreated, Actor: session.ActorAdmin, Details: session.AuditDetails(nil)}
		var dbUID any
		if uid != 0 {
			r.UserID, dbUID = strconv.FormatInt(uid, 10), uid
		}
		r.PrevHash = prev
		r.Hash = session.ChainHash(prev, r)
		exec(`INSERT INTO audit_log (seq, at, event, user_id, client_ip, user_agent, actor, details, prev_hash, hash) VALUES ($1, $2, $3, $4, '', '', $5, $6, $7, $8)`,
			r.Seq, r.At, r.Event, dbUID, r.Actor, string(r.Details), []byte(r.PrevHash), []byte(r.Hash))
		prev = r.Hash
	}
	exec(`UPDATE audit_head SET seq = 3, hash = $1`, []byte(prev))

	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrating a populated database: %v", err)
	}
	store := postgres.NewStore(pool)
	for _, id := range []string{"42", "9000000000"} {
		if _, err := store.GetUser(ctx, id); err != nil {
			t.Errorf("user %s after the migration: %v", id, err)
		}
	}
	for i, tok := range tokens {
		r, err := store.Restore(ctx, tok.Hash())
		if err != nil || (r.User.ID != "42" && r.User.ID != "9000000000") || r.Session.UserID != r.User.ID {
			t.Errorf("session %d after the migration: %+v, %v", i, r.User, err)
		}
	}
	var devices int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM user_devices WHERE user_id = '42'`).Scan(&devices); err != nil || devices != 1 {
		t.Errorf("devices of user 42 = %d, %v; want 1", devices, err)
	}
	v := session.NewChainVerifier(nil)
	chain, err := store.WalkAudit(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	v.Finish(chain.Head)
	if v.Broken != "" || v.Records() != 3 {
		t.Errorf("audit chain after the migration: %d records, broken: %s", v.Records(), v.Broken)
	}
	// The foreign keys still cascade, and the new id rules hold.
	if _, err := store.DeleteUser(ctx, "9000000000"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Restore(ctx, tokens[2].Hash()); err == nil {
		t.Error("a deleted user's session survived")
	}
	if _, err := pool.Exec(ctx, `INSERT INTO users (id, username) VALUES ('a b', 'carol')`); err == nil {
		t.Error("the database took a user id with a space")
	}
}

// TestMigrationReportsIdentityConflicts: users the new identity rules
// refuse stop the migration with a list of what to fix.
func TestMigrationReportsIdentityConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, tt := range map[string]struct{ insert, want string }{
		"CaseConflict": {`INSERT INTO users (id, username) VALUES (1, 'Admin'), (2, 'admin'), (3, 'bob')`, `'admin' (user ids 1, 2)`},
		"ControlChar":  {`INSERT INTO users (id, username, roles) VALUES (7, 'eve', ARRAY[E'ro\x0ble'])`, "fix them first: 7"},
	} {
		pool := oldSchema(t)
		if _, err := pool.Exec(ctx, tt.insert); err != nil {
			t.Fatal(err)
		}
		_, err := postgres.Migrate(ctx, pool)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Migrate = %v; want an error naming %s", name, err, tt.want)
		}
	}
}
