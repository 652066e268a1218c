package gateway_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

// relayed sums sessiongw_outbox_relayed_total over the replicas.
func relayed(t *testing.T, reps []*testenv.Replica) float64 {
	t.Helper()
	var n float64
	for _, rep := range reps {
		n += max(0, metricValue(string(testenv.Do(t, http.MethodGet, rep.URL+"/metrics", nil).Body), "sessiongw_outbox_relayed_total"))
	}
	return n
}

// notified is how many outbox notifications rep has handled.
func notified(t *testing.T, rep *testenv.Replica) float64 {
	t.Helper()
	return metricValue(string(testenv.Do(t, http.MethodGet, rep.URL+"/metrics", nil).Body), `sessiongw_outbox_notifications_total{result="read"}`)
}

// A logout's replica propagates its outbox entry and marks it done: no
// relay repeats it (before, every logout was published twice).
func TestLogoutsAreNotRelayedAgain(t *testing.T) {
	t.Parallel()
	reps := startReplicas(t, 3)
	user(t, reps[0].URL, "u", "u")
	const logouts = 30
	for i := range logouts {
		tok, _ := testenv.NewSession(t, reps[0].URL, "u", false, "")
		wantStatus(t, "logout", testenv.Do(t, http.MethodDelete, reps[i%3].URL+"/v1/session", nil, testenv.Bearer(tok)...), http.StatusNoContent)
	}
	store := postgres.NewStore(reps[0].Gateway.Pool())
	testdeps.WaitFor(t, 15*time.Second, func() bool {
		n, err := store.OutboxBacklog(context.Background())
		return err == nil && n == 0
	}, "the logouts' outbox entries were never marked done")
	if n := relayed(t, reps); n != 0 {
		t.Errorf("the relays repeated %v of %d logouts their replicas had propagated", n, logouts)
	}
}

// TestPropertyDeadOriginLeavesNothingStale: a replica that commits a
// logout and dies before removing the Redis entry (played by a store with
// an origin that never propagates) leaves a stale shared copy. The other
// replicas hear the owned entry's NOTIFY, drop their copies and do not
// refill them from that Redis entry; once the entry has settled a relay
// removes the Redis copy and marks it done.
func TestPropertyDeadOriginLeavesNothingStale(t *testing.T) {
	t.Parallel()
	reps := startReplicas(t, 3)
	dead := postgres.NewStore(reps[0].Gateway.Pool())
	dead.SetOrigin("a-replica-that-died")
	ctx := context.Background()
	user(t, reps[0].URL, "u", "u")
	trials, violations := testenv.Trials(20), 0
	var tokens []string
	for i := range trials {
		tok, _ := testenv.NewSession(t, reps[0].URL, "u", false, "")
		tokens = append(tokens, tok)
		for _, rep := range reps {
			wantStatus(t, "before", auth(t, rep.URL, tok), http.StatusOK) // cached in Redis and in each process
		}
		d, err := dead.DeleteSession(ctx, session.Token(tok).Hash())
		if err != nil || d.Outbox == 0 {
			t.Fatalf("dead origin's logout = %+v, %v", d, err)
		}
		// Each replica hears the NOTIFY within milliseconds; from then on
		// it must refuse the session every time, though Redis still has it
		// (until the entry settles, seconds later).
		for j, rep := range reps {
			testdeps.WaitFor(t, 5*time.Second, func() bool { return notified(t, rep) > float64(i) },
				"replica "+strconv.Itoa(j)+" never heard the owned entry's NOTIFY")
		}
		for range 10 {
			for j, rep := range reps {
				if s := auth(t, rep.URL, tok).Status; s != http.StatusUnauthorized {
					violations++
					t.Logf("trial %d: replica %d answered %d for a session whose origin died after committing its logout", i, j, s)
				}
			}
		}
	}
	testenv.Report(t, "a dead origin's logout is never served from its stale Redis copy", trials, violations)
	testdeps.WaitFor(t, 30*time.Second, func() bool {
		n, err := dead.OutboxBacklog(ctx)
		return err == nil && n == 0
	}, "no relay took over the dead origin's outbox entries")
	if n := relayed(t, reps); n < float64(trials) {
		t.Errorf("the relays relayed %v entries; want the dead origin's %d", n, trials)
	}
	for _, tok := range tokens {
		for _, rep := range reps {
			wantStatus(t, "after the relay", auth(t, rep.URL, tok), http.StatusUnauthorized)
		}
	}
}
