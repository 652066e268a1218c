package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
)

// Activity at scale: every session of the data set validated once, spread
// over three replicas as fast as they answer; then, two batch intervals
// after the last answer, every session's last_activity_at must have been
// written. Reported: how many were, the activity statements' count,
// failures (a deadlock would be one) and the longest, and the CPU the
// Postgres processes used meanwhile.
func (b *bench) activityRows(ctx context.Context) ([]row, error) {
	const interval = 5 * time.Second // the gateway's batch interval (its default)
	fmt.Fprintln(os.Stderr, "activity at scale")
	pool, err := postgres.Connect(ctx, b.dsn)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	// The data set's sessions still there (the scenarios before logged
	// some out), every session last active an hour ago (activity alone
	// invalidates nothing, so the caches keep their copies).
	hashes := make([][]byte, len(b.tokens))
	byHash := make(map[string]string, len(b.tokens))
	for i, tok := range b.tokens {
		h := session.Token(tok).Hash()
		hashes[i] = h[:]
		byHash[string(h[:])] = tok
	}
	rows, err := pool.Query(ctx, `SELECT token_hash FROM sessions WHERE token_hash = ANY($1)`, hashes)
	if err != nil {
		return nil, err
	}
	live, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, err
	}
	tokens := make([]string, len(live))
	for i, h := range live {
		tokens[i] = byHash[string(h)]
	}
	if _, err := pool.Exec(ctx, `UPDATE sessions SET last_activity_at = now() - interval '1 hour'`); err != nil {
		return nil, err
	}
	gws, stop, err := b.startReplicas(ctx, 3)
	if err != nil {
		return nil, err
	}
	defer stop()
	var start time.Time
	if err := pool.QueryRow(ctx, `SELECT now()`).Scan(&start); err != nil {
		return nil, err
	}
	pgCPU0 := postgresCPU()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next, failed atomic.Int64
	t0 := time.Now()
	var wg sync.WaitGroup
	for range 48 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(tokens) {
					return
				}
				if authStatus(ctx, client, gws[i%3].url, tokens[i]) != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	load := time.Since(t0)
	if n := failed.Load(); n > 0 {
		return nil, fmt.Errorf("activity at scale: %d of %d validations failed", n, len(tokens))
	}
	time.Sleep(2 * interval)
	pgCPU := postgresCPU() - pgCPU0
	var stale int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE token_hash = ANY($1) AND last_activity_at < $2`, live, start).Scan(&stale); err != nil {
		return nil, err
	}
	var stmts, errs, longest int64
	for _, gw := range gws {
		stmts += gw.counters.touchStmts.Load()
		errs += gw.counters.touchErrs.Load()
		longest = max(longest, gw.counters.touchMax.Load())
	}
	res := result{requests: int64(len(tokens)), duration: load}
	return []row{{name: fmt.Sprintf("activity at scale: the data set's %d sessions validated once each over 3 replicas, then two batch intervals (%s)", len(tokens), 2*interval), res: res,
		note: fmt.Sprintf("%d of %d sessions had last_activity_at written within two batch intervals of the last answer; %d activity statements on the three replicas, %d failed (deadlocks included), the longest took %s; the Postgres processes used %.1f s of CPU over the %.1f s of load and wait",
			len(tokens)-stale, len(tokens), stmts, errs, ms(time.Duration(longest)), pgCPU.Seconds(), (load + 2*interval).Seconds())}}, nil
}
