package gateway_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
	"github.com/sessiongw/sessiongw/internal/testenv/redistest"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

// restoreSQL identifies the one validation query.
const restoreSQL = "FROM sessions s JOIN users u"

// TestConcurrentMissesCoalesce: many concurrent validations of one uncached
// token cost exactly one Postgres query.
func TestConcurrentMissesCoalesce(t *testing.T) {
	t.Parallel()
	counter := &pgtest.QueryCounter{Match: restoreSQL}
	rep := testenv.Start(t, testenv.Config(t), gateway.Options{PGTracer: counter})
	user(t, rep.URL, 1, "alice")
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")

	parsed, err := session.ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 500)
	for i := range errs {
		wg.Go(func() {
			<-start
			_, errs[i] = rep.Gateway.Service().Validate(context.Background(), parsed, session.Client{})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("validation %d: %v", i, err)
		}
	}
	if n := counter.Count(); n != 1 {
		t.Errorf("Postgres validation queries for 500 concurrent misses = %d; want 1", n)
	}
}

// TestResubscriptionFlushesLocalCache: a replica that missed invalidations
// while its subscription was down drops every in-process copy when the
// subscription comes back.
func TestResubscriptionFlushesLocalCache(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	rep, _ := setup(t, func(c *config.Config) { c.RedisURL = srv.URL(); c.LocalCacheTTL = time.Minute })
	user(t, rep.URL, 1, "alice")
	tok, _ := testenv.NewSession(t, rep.URL, 1, false, "")
	wantStatus(t, "warm", auth(t, rep.URL, tok), http.StatusOK)

	// Revoke behind the gateway's back with the outbox triggers off: no
	// invalidation is published, no NOTIFY is sent.
	ctx := context.Background()
	for _, q := range []string{`ALTER TABLE sessions DISABLE TRIGGER USER`, `DELETE FROM sessions`} {
		if _, err := rep.Gateway.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rdb := redistest.Client(t, srv.URL())
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "in-process copy still served (nothing told the replica)", auth(t, rep.URL, tok), http.StatusOK)

	// Drop the subscriber connection of this test's own redis-server.
	if err := rdb.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	// Wait for the resubscription, then for trust to return: only then
	// would the replica read its in-process copy again, so only then does
	// the answer show whether the copy was flushed.
	testdeps.WaitFor(t, 15*time.Second, func() bool { return !rep.Gateway.Trusted() }, "the replica never noticed its subscription was killed")
	testenv.WaitTrusted(t, rep.Gateway)
	wantStatus(t, "after resubscription (copy flushed)", auth(t, rep.URL, tok), http.StatusUnauthorized)
}
