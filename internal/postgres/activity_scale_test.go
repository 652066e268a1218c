package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
)

// seedSessions inserts n sessions of 100 users with COPY and returns their
// public ids.
func seedSessions(t *testing.T, pool *pgxpool.Pool, n int) []string {
	t.Helper()
	ctx := context.Background()
	users := make([][]any, 100)
	for i := range users {
		users[i] = []any{strconv.Itoa(i), fmt.Sprintf("user%d", i), true, []string{}}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "username", "is_active", "roles"}, pgx.CopyFromRows(users)); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Hour)
	ids := make([]string, n)
	rows := make([][]any, n)
	for i := range rows {
		id := uuid.New()
		ids[i] = id.String()
		h := session.Token(uuid.NewString()).Hash()
		rows[i] = []any{h[:], id, strconv.Itoa(i % 100), now, now.Add(24 * time.Hour), now, "192.0.2.1", "ua"}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"sessions"}, []string{"token_hash", "public_id", "user_id", "created_at", "expires_at",
		"last_activity_at", "ip_address", "user_agent"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestActivityBatchesOfThreeReplicasNeitherDeadlockNorLose: three replicas
// (three pools) write overlapping batches of 30,000 sessions at once, each
// in its own order; every write lands (the latest time wins) and none
// fails. Before batches were bounded and locked in order, such batches
// deadlocked and most activity was lost.
func TestActivityBatchesOfThreeReplicasNeitherDeadlockNorLose(t *testing.T) {
	t.Parallel()
	_, pool := setup(t)
	const n = 30_000
	ids := seedSessions(t, pool, n)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Microsecond)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for r := range 3 {
		p, err := pgxpool.NewWithConfig(ctx, pool.Config())
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		store := postgres.NewStore(p)
		ts := make([]session.Touch, n)
		for i, id := range ids {
			ts[i] = session.Touch{SessionID: id, At: base.Add(time.Duration(r) * time.Second)}
		}
		rand.New(rand.NewPCG(uint64(r), 19)).Shuffle(n, func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
		wg.Go(func() { errs[r] = store.TouchSessions(ctx, ts) })
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", r, err)
		}
	}
	var stale int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE last_activity_at <> $1`, base.Add(2*time.Second)).Scan(&stale); err != nil {
		t.Fatal(err)
	}
	if stale != 0 {
		t.Errorf("%d of %d sessions lack the latest activity", stale, n)
	}
}

// TestActivityTriggerIsPlannedPerStatement reproduces the pathology of the
// update trigger's cached plan: on a connection that has run small updates,
// PL/pgSQL once planned its transition-table join as a nested loop, and a
// 20,000-row update then took over 30 s. The trigger now plans it per
// statement; the update gets a statement timeout of 20 s, a hang guard far
// above the second or so it takes.
func TestActivityTriggerIsPlannedPerStatement(t *testing.T) {
	t.Parallel()
	_, pool := setup(t)
	ids := seedSessions(t, pool, 20_000)
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for i := range 50 { // small updates first, on this connection
		if _, err := conn.Exec(ctx, `UPDATE sessions SET last_activity_at = now() WHERE public_id = ANY($1)`, ids[i*10:i*10+10]); err != nil {
			t.Fatal(err)
		}
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = '20s'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE sessions SET last_activity_at = now() + interval '1 second', ip_address = '192.0.2.2' WHERE public_id = ANY($1)`, ids)
		return err
	})
	if err != nil {
		t.Fatalf("a 20,000-row update after small ones: %v", err)
	}
}
