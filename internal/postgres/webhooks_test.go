package postgres_test

import (
	"context"
	"slices"
	"testing"

	"github.com/sessiongw/sessiongw/internal/webhook"
)

// TestFanOutKeepsEachUsersOrder: an event whose audit record still waits
// for the sequencer waits with it, and so do its user's later events, even
// one with no record to wait for (a change made with plain SQL); another
// user's events go on. Seen as a flaky ordering in the webhook end-to-end
// test when a record committed between FanOut's chaining and its query.
func TestFanOutKeepsEachUsersOrder(t *testing.T) {
	t.Parallel()
	store, pool := setup(t)
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO webhook_endpoints (name) VALUES ('ep')`)
	// A: a change with its audit record, committed, not yet chained.
	exec(`WITH r AS (INSERT INTO audit_pending (event, client_ip, user_agent, actor, details) VALUES ('session.created', '', '', 'system', '{}'))
		INSERT INTO webhook_events (type, user_id) VALUES ('session.created', 'u')`)
	// B: the same user's next change, made with plain SQL (no record).
	exec(`INSERT INTO webhook_events (type, user_id, data) VALUES ('session.revoked', 'u', '{"reason": "external_sql"}')`)
	// C: another user's change without a record.
	exec(`INSERT INTO webhook_events (type, user_id) VALUES ('session.created', 'v')`)

	routes := []webhook.Route{{Endpoint: "ep"}}
	delivered := func() []string {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT d.user_id || ':' || e.type FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id ORDER BY d.event_id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	if n, err := store.FanOutUnchained(ctx, routes, 100); err != nil || n != 1 {
		t.Fatalf("fan-out with u's first record unchained: %d events, %v; want 1 (v's)", n, err)
	}
	if got, want := delivered(), []string{"v:session.created"}; !slices.Equal(got, want) {
		t.Fatalf("deliveries %v; want %v (u's revoke must wait for u's create)", got, want)
	}
	if n, err := store.FanOut(ctx, routes, 100); err != nil || n != 2 {
		t.Fatalf("fan-out after chaining: %d events, %v; want 2", n, err)
	}
	if got, want := delivered(), []string{"u:session.created", "u:session.revoked", "v:session.created"}; !slices.Equal(got, want) {
		t.Fatalf("deliveries %v; want %v", got, want)
	}
	var seq *int64
	if err := pool.QueryRow(ctx, `SELECT audit_seq FROM webhook_events WHERE type = 'session.created' AND user_id = 'u'`).Scan(&seq); err != nil || seq == nil {
		t.Fatalf("u's create went out without its audit_seq (%v, %v)", seq, err)
	}
}
