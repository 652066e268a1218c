package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/session"
)

// walk verifies the stored chain and returns its records.
func walk(t *testing.T, store interface {
	WalkAudit(context.Context, session.AuditWalker) (session.AuditChain, error)
}) []session.AuditRecord {
	t.Helper()
	c := &collect{v: session.NewChainVerifier(nil)}
	chain, err := store.WalkAudit(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	c.v.Finish(chain.Head)
	if c.v.Broken != "" {
		t.Fatalf("chain broken at %d: %s", c.v.BrokenAt, c.v.Broken)
	}
	return c.recs
}

type collect struct {
	v    *session.ChainVerifier
	recs []session.AuditRecord
}

func (c *collect) Start(ch session.AuditChain) { c.v.Start(ch) }
func (c *collect) Add(r session.AuditRecord) bool {
	c.recs = append(c.recs, r)
	return c.v.Add(r)
}

// TestAuditSequencerChainsEachCommittedRecordOnce: records appended from
// many connections while background sequencers (two replicas' loops) and
// readers chain concurrently end up in one unbroken chain, each exactly
// once; a record of a transaction still open waits for its commit, and one
// of a transaction that rolled back never appears.
func TestAuditSequencerChainsEachCommittedRecordOnce(t *testing.T) {
	t.Parallel()
	store, pool := setup(t)
	ctx := context.Background()
	pending := func(tag string) string {
		return fmt.Sprintf(`INSERT INTO audit_pending (event, client_ip, user_agent, actor, details) VALUES ('test.%s', '', '', 'system', '{}')`, tag)
	}
	open, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Rollback(ctx)
	aborted, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open.Exec(ctx, pending("open")); err != nil {
		t.Fatal(err)
	}
	if _, err := aborted.Exec(ctx, pending("aborted")); err != nil {
		t.Fatal(err)
	}

	loops, stopLoops := context.WithCancel(ctx)
	var bg sync.WaitGroup
	for range 2 {
		bg.Go(func() { store.RunAuditSequencer(loops, 5*time.Millisecond, slog.New(slog.DiscardHandler)) })
	}
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := store.AppendAudit(ctx, session.AuditEntry{Event: "test.concurrent", Details: map[string]any{"w": w, "i": i}}); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 { // a reader chains what is committed before it reads
					if _, err := store.SequenceAudit(ctx); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := aborted.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// The background loops alone chain the rest (count(*) sees committed
	// records only, as the sequencers do).
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_pending`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records still pending after 20 s of background sequencing", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopLoops()
	bg.Wait()

	recs := walk(t, store)
	seen := map[string]int{}
	last := map[float64]float64{} // writer → its last record's i in chain order
	for _, r := range recs {
		if r.Event == "test.open" || r.Event == "test.aborted" {
			t.Errorf("%s chained before its transaction committed", r.Event)
		}
		seen[string(r.Details)]++
		var d struct{ W, I float64 }
		if err := json.Unmarshal(r.Details, &d); err != nil {
			t.Fatal(err)
		}
		// A writer appended its records one after the other: the chain
		// keeps that order (a change committed before another began comes
		// first).
		if prev, ok := last[d.W]; ok && d.I != prev+1 {
			t.Errorf("writer %v: record %v chained right after %v", d.W, d.I, prev)
		}
		last[d.W] = d.I
	}
	if len(recs) != writers*each || len(seen) != writers*each {
		t.Fatalf("chain holds %d records (%d distinct); want each of %d exactly once", len(recs), len(seen), writers*each)
	}

	if err := open.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.SequenceAudit(ctx); err != nil {
		t.Fatal(err)
	}
	recs = walk(t, store)
	if len(recs) != writers*each+1 || recs[len(recs)-1].Event != "test.open" {
		t.Errorf("after the open transaction committed: %d records, last %q; want %d, the open one's last", len(recs), recs[len(recs)-1].Event, writers*each+1)
	}
	for _, r := range recs {
		if r.Event == "test.aborted" {
			t.Error("a rolled-back transaction's record was chained")
		}
	}
}
