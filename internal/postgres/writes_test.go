package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv/pgtest"
)

// create makes a session of userID from the same client every time, so
// after the first one the store knows the device and takes its one-statement
// path.
func create(t *testing.T, s *postgres.Store, userID string, limit session.Limit) (session.Token, session.Session, []session.Evicted, error) {
	return createFrom(t, s, userID, session.Client{IP: "192.0.2.1", UserAgent: "ua"}, limit)
}

// createFrom makes an hour-long session of userID from client c.
func createFrom(t *testing.T, s *postgres.Store, userID string, c session.Client, limit session.Limit) (session.Token, session.Session, []session.Evicted, error) {
	t.Helper()
	tok, _ := session.NewToken()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ss, ev, err := s.CreateSession(context.Background(), session.NewSession{
		Hash: tok.Hash(), ID: testenvUUID(t), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		IPAddress: c.IP, UserAgent: c.UserAgent, AuthenticatedAt: now, AMR: []string{},
	}, limit)
	return tok, ss, ev, err
}

// activeUser makes an active user id (also its username) without roles.
func activeUser(t *testing.T, s *postgres.Store, id string) {
	t.Helper()
	if _, _, _, err := s.UpsertUser(context.Background(), session.User{ID: id, Username: id, IsActive: true, Roles: []string{}}); err != nil {
		t.Fatal(err)
	}
}

// userWithSession makes an active user id with one session, returning its
// token.
func userWithSession(t *testing.T, s *postgres.Store, id string) session.Token {
	t.Helper()
	activeUser(t, s, id)
	tok, _, _, err := create(t, s, id, session.Limit{})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func countRows(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The one-statement create must apply exactly what the full path applies:
// a user's own limit, the default limit, an override of 0 (no limit), an
// inactive or missing user; and every session it writes has its audit
// record.
func TestCreateFromAKnownDeviceKeepsEveryRule(t *testing.T) {
	t.Parallel()
	s, pool := setup(t)
	ctx := context.Background()
	two, zero := 2, 0
	for _, u := range []session.User{
		{ID: "limited", Username: "l", IsActive: true, Roles: []string{}, MaxSessions: &two},
		{ID: "free", Username: "f", IsActive: true, Roles: []string{}},
		{ID: "unlimited", Username: "u", IsActive: true, Roles: []string{}, MaxSessions: &zero},
		{ID: "inactive", Username: "i", IsActive: true, Roles: []string{}},
	} {
		if _, _, _, err := s.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	refuse := session.Limit{Policy: session.PolicyRefuse}
	for i := range 3 {
		_, _, _, err := create(t, s, "limited", refuse)
		if i < 2 && err != nil {
			t.Fatalf("create %d of a user with max_sessions 2: %v", i+1, err)
		}
		if i == 2 && !errors.Is(err, session.ErrSessionLimit) {
			t.Fatalf("third create of a user with max_sessions 2 from a known device = %v; want ErrSessionLimit", err)
		}
	}
	evict := session.Limit{Default: 2, Policy: session.PolicyEvictOldest}
	for range 4 {
		if _, _, _, err := create(t, s, "free", evict); err != nil {
			t.Fatal(err)
		}
	}
	if n := countRows(t, pool, `SELECT count(*) FROM sessions WHERE user_id = 'free'`); n != 2 {
		t.Errorf("user under a default limit of 2 has %d sessions after 4 creates; want 2 (evicted)", n)
	}
	for range 4 {
		if _, _, _, err := create(t, s, "unlimited", evict); err != nil {
			t.Fatal(err)
		}
	}
	if n := countRows(t, pool, `SELECT count(*) FROM sessions WHERE user_id = 'unlimited'`); n != 4 {
		t.Errorf("user with max_sessions 0 under a default of 2 has %d sessions; want 4", n)
	}
	if _, _, _, err := create(t, s, "inactive", session.Limit{}); err != nil {
		t.Fatal(err) // the device is known from here on
	}
	if _, _, _, err := s.UpsertUser(ctx, session.User{ID: "inactive", Username: "i", IsActive: false, Roles: []string{}}); err != nil {
		t.Fatal(err)
	}
	var conflict *session.ConflictError
	if _, _, _, err := create(t, s, "inactive", session.Limit{}); !errors.As(err, &conflict) {
		t.Errorf("create for an inactive user = %v; want a conflict", err)
	}
	if _, _, _, err := create(t, s, "missing", session.Limit{}); !errors.Is(err, session.ErrUserNotFound) {
		t.Errorf("create for a missing user = %v; want ErrUserNotFound", err)
	}
	if _, err := s.SequenceAudit(ctx); err != nil {
		t.Fatal(err)
	}
	sessions := countRows(t, pool, `SELECT count(*) FROM sessions`)
	created := countRows(t, pool, `SELECT count(*) FROM audit_log WHERE event = $1`, session.EventSessionCreated)
	evicted := countRows(t, pool, `SELECT count(*) FROM audit_log WHERE event = $1`, session.EventSessionEvicted)
	if created != sessions+evicted {
		t.Errorf("%d session_created records for %d sessions and %d evictions", created, sessions, evicted)
	}
}

// A logout is one round trip: the delete, its audit record and its webhook
// reason commit together, and a second logout of the same token finds
// nothing and writes nothing.
func TestLogoutWritesItsRecordAndReason(t *testing.T) {
	t.Parallel()
	s, pool := setup(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO webhook_endpoints (name) VALUES ('test')`); err != nil {
		t.Fatal(err) // the triggers write events only with an endpoint configured
	}
	tok := userWithSession(t, s, "u")
	r, err := s.Restore(ctx, tok.Hash())
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		d, err := s.DeleteSession(ctx, tok.Hash())
		if err != nil || d.Found != want || d.Outbox != 0 {
			t.Fatalf("logout %d = %+v, %v; want found %v, no owned entry (no origin set)", i+1, d, err, want)
		}
	}
	if _, err := s.SequenceAudit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, pool, `SELECT count(*) FROM audit_log WHERE event = $1 AND session_id = $2 AND user_id = 'u'`,
		session.EventSessionCleared, r.Session.ID); n != 1 {
		t.Errorf("%d logout records for the session; want 1", n)
	}
	var reason string
	if err := pool.QueryRow(ctx, `SELECT data->>'reason' FROM webhook_events WHERE type = 'session.revoked'`).Scan(&reason); err != nil {
		t.Fatal(err)
	}
	if reason != "logout" {
		t.Errorf("webhook reason %q; want logout", reason)
	}
}

// listen collects the outbox notifications of pool's schema.
func listen(t *testing.T, pool *pgxpool.Pool) <-chan session.Notice {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	got := make(chan session.Notice, 10)
	ready := make(chan struct{}, 1)
	go postgres.Listen(ctx, pool, discard(), func(n session.Notice) { got <- n }, func() { ready <- struct{}{} })
	<-ready
	return got
}

// The outbox NOTIFY names the hashes of a change of up to 100 sessions, so
// replicas need not read the entry; a larger change sends the id alone.
func TestNotifyCarriesTheHashes(t *testing.T) {
	t.Parallel()
	s, pool := setup(t)
	ctx := context.Background()
	got := listen(t, pool)
	tok := userWithSession(t, s, "u")
	if _, err := s.DeleteSession(ctx, tok.Hash()); err != nil {
		t.Fatal(err)
	}
	n := <-got
	if n.Carried == nil || len(n.Carried.Hashes) != 1 || n.Carried.Hashes[0] != tok.Hash() || n.Owned {
		t.Fatalf("NOTIFY of one logout = %+v; want its hash, not owned (no origin set)", n)
	}
	stored, err := s.OutboxEntry(ctx, n.ID)
	if err != nil || len(stored.Hashes) != 1 || stored.Hashes[0] != tok.Hash() {
		t.Errorf("outbox entry %d = %+v, %v; want the same hash", n.ID, stored, err)
	}
	for range 101 {
		if _, _, _, err := create(t, s, "u", session.Limit{}); err != nil {
			t.Fatal(err)
		}
	}
	hs, err := s.DeleteUserSessions(ctx, "u", nil)
	if err != nil || len(hs) != 101 {
		t.Fatalf("DeleteUserSessions = %d, %v", len(hs), err)
	}
	if n = <-got; n.Carried != nil {
		t.Errorf("NOTIFY of 101 sessions carried %d hashes; want the id alone", len(n.Carried.Hashes))
	}
	if stored, err := s.OutboxEntry(ctx, n.ID); err != nil || len(stored.Hashes) != 101 {
		t.Errorf("outbox entry of 101 sessions = %d hashes, %v", len(stored.Hashes), err)
	}
}

// A logout on a store with an origin writes an owned outbox entry: its id
// comes back with the delete, its NOTIFY says so, the relays leave it alone
// until it has settled (while they take entries without an origin at once),
// and MarkOutboxDone takes it off the backlog.
func TestOwnedOutboxEntries(t *testing.T) {
	t.Parallel()
	s, pool := setup(t)
	s.SetOrigin("replica-a")
	ctx := context.Background()
	got := listen(t, pool)
	tok := userWithSession(t, s, "u")
	other, _, _, err := create(t, s, "u", session.Limit{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.DeleteSession(ctx, tok.Hash())
	if err != nil || !d.Found || d.Outbox == 0 {
		t.Fatalf("DeleteSession = %+v, %v; want found with its outbox entry", d, err)
	}
	if n := <-got; !n.Owned || n.ID != d.Outbox || n.Carried == nil || n.Carried.Hashes[0] != tok.Hash() {
		t.Fatalf("NOTIFY = %+v; want entry %d, owned, with the hash", n, d.Outbox)
	}
	if again, err := s.DeleteSession(ctx, tok.Hash()); err != nil || again.Found || again.Outbox != 0 {
		t.Fatalf("second DeleteSession = %+v, %v; want nothing", again, err)
	}
	// An entry without an origin (a revoke of all of a user's sessions).
	if _, err := s.DeleteUserSessions(ctx, "u", nil); err != nil {
		t.Fatal(err)
	}
	<-got
	claim := func(settle time.Duration) []session.Invalidation {
		t.Helper()
		var all []session.Invalidation
		_, err := s.ClaimOutbox(ctx, 100, settle, func(b []session.Invalidation) error {
			all = append(all, b...)
			return errors.New("keep them pending") // the claim rolls back
		})
		if err == nil {
			return nil
		}
		return all
	}
	if c := claim(time.Hour); len(c) != 1 || c[0].Hashes[0] != other.Hash() {
		t.Fatalf("claim with the owned entry unsettled = %+v; want only the entry without an origin", c)
	}
	if c := claim(0); len(c) != 2 {
		t.Fatalf("claim with settle 0 = %d entries; want both", len(c))
	}
	if err := s.MarkOutboxDone(ctx, []int64{d.Outbox}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.OutboxBacklog(ctx); err != nil || n != 1 {
		t.Errorf("backlog after marking the owned entry done = %d, %v; want 1", n, err)
	}
	var origin string
	if err := pool.QueryRow(ctx, `SELECT origin FROM invalidation_outbox WHERE id = $1`, d.Outbox).Scan(&origin); err != nil || origin != "replica-a" {
		t.Errorf("owned entry's origin = %q, %v", origin, err)
	}
}

func TestParseNotify(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for _, c := range []struct {
		payload string
		id      int64
		hashes  int // -1: none carried
		owned   bool
		bad     bool
	}{
		{"42", 42, -1, false, false},
		{"42:" + h, 42, 1, false, false},
		{"42:" + h + "," + h, 42, 2, false, false},
		{"o42:" + h, 42, 1, true, false},
		{"o42", 42, -1, true, false},
		{"x", 0, 0, false, true},
		{"42:zz", 0, 0, false, true},
		{"42:", 0, 0, false, true},
		{"42:" + h + ",", 0, 0, false, true},
		{"oo42", 0, 0, false, true},
	} {
		n, err := postgres.ParseNotify(c.payload)
		if (err != nil) != c.bad {
			t.Errorf("ParseNotify(%q) error %v; want error %v", c.payload, err, c.bad)
			continue
		}
		if c.bad {
			continue
		}
		hashes := -1
		if n.Carried != nil {
			hashes = len(n.Carried.Hashes)
		}
		if n.ID != c.id || hashes != c.hashes || n.Owned != c.owned {
			t.Errorf("ParseNotify(%q) = %+v (%d hashes); want %d, %d, owned %v", c.payload, n, hashes, c.id, c.hashes, c.owned)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The webhook triggers' guard (sessiongw_webhooks_on, PL/pgSQL since
// migration 0013, its plan kept per connection) still answers per
// statement: on one connection, endpoints added or removed between
// logouts turn their events on and off.
func TestWebhookGuardFollowsTheEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := setupAt(t, pgtest.New(t)+"&pool_max_conns=1")
	events := func() int {
		return countRows(t, pool, `SELECT count(*) FROM webhook_events WHERE type = 'session.revoked'`)
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	logout := func(user string) {
		t.Helper()
		if d, err := s.DeleteSession(ctx, userWithSession(t, s, user).Hash()); err != nil || !d.Found {
			t.Fatalf("logout = %+v, %v", d, err)
		}
	}
	for i, step := range []struct {
		sql  string // run before the logout
		want int    // session.revoked events after it
	}{
		{"", 0},
		{"", 0}, // the guard's plan is cached on this connection by now
		{`INSERT INTO webhook_endpoints (name) VALUES ('ep')`, 1},
		{"", 2},
		{`DELETE FROM webhook_endpoints`, 2},
		{`INSERT INTO webhook_endpoints (name) VALUES ('ep2')`, 3},
	} {
		if step.sql != "" {
			exec(step.sql)
		}
		logout(fmt.Sprintf("u%d", i))
		if got := events(); got != step.want {
			t.Fatalf("step %d: %d session.revoked events; want %d", i, got, step.want)
		}
	}
}

// A batch of logouts (the group commit of concurrent logouts) is one
// transaction: each found session is deleted once and gets one audit record
// naming its own logout's actor and one webhook event, one owned outbox
// entry (and NOTIFY) names them all, and unknown tokens find nothing.
func TestDeleteSessionsInOneBatch(t *testing.T) {
	t.Parallel()
	s, pool := setup(t)
	s.SetOrigin("replica-a")
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO webhook_endpoints (name) VALUES ('test')`); err != nil {
		t.Fatal(err)
	}
	got := listen(t, pool)
	a, b := userWithSession(t, s, "ua"), userWithSession(t, s, "ub")
	kept := userWithSession(t, s, "uc")
	unknown, _ := session.NewToken()
	actor := func(ip string) session.Actor {
		return session.Actor{Kind: session.ActorSelf, ClientIP: ip, UserAgent: "ua " + ip}
	}
	out, err := s.DeleteSessions(ctx, []session.Logout{
		{Hash: a.Hash(), Actor: actor("192.0.2.1")},
		{Hash: unknown.Hash(), Actor: actor("192.0.2.2")},
		{Hash: b.Hash(), Actor: actor("192.0.2.3")},
		{Hash: a.Hash(), Actor: actor("192.0.2.1")}, // the same session again
	})
	if err != nil || !slices.Equal(out.Found, []bool{true, false, true, true}) || out.Outbox == 0 {
		t.Fatalf("DeleteSessions = %+v, %v; want found, not found, found, found, with an owned outbox entry", out, err)
	}
	n := <-got
	if !n.Owned || n.ID != out.Outbox || n.Carried == nil || len(n.Carried.Hashes) != 2 ||
		!slices.ContainsFunc(n.Carried.Hashes, func(h session.Hash) bool { return h == a.Hash() }) ||
		!slices.ContainsFunc(n.Carried.Hashes, func(h session.Hash) bool { return h == b.Hash() }) {
		t.Fatalf("NOTIFY = %+v; want entry %d, owned, naming the two deleted sessions", n, out.Outbox)
	}
	if _, err := s.Restore(ctx, kept.Hash()); err != nil {
		t.Errorf("a session outside the batch: %v", err)
	}
	for _, tok := range []session.Token{a, b} {
		if _, err := s.Restore(ctx, tok.Hash()); !errors.Is(err, session.ErrUnauthenticated) {
			t.Errorf("a logged-out session: %v; want ErrUnauthenticated", err)
		}
	}
	if _, err := s.SequenceAudit(ctx); err != nil {
		t.Fatal(err)
	}
	for user, ip := range map[string]string{"ua": "192.0.2.1", "ub": "192.0.2.3"} {
		if n := countRows(t, pool, `SELECT count(*) FROM audit_log WHERE event = $1 AND user_id = $2 AND client_ip = $3 AND user_agent = $4 AND actor = $5`,
			session.EventSessionCleared, user, ip, "ua "+ip, session.ActorSelf); n != 1 {
			t.Errorf("%d logout records of %s from %s; want 1", n, user, ip)
		}
		if n := countRows(t, pool, `SELECT count(*) FROM webhook_events WHERE type = 'session.revoked' AND user_id = $1 AND data->>'reason' = 'logout'`, user); n != 1 {
			t.Errorf("%d session.revoked events of %s; want 1", n, user)
		}
	}
	if n := countRows(t, pool, `SELECT count(*) FROM audit_log WHERE event = $1`, session.EventSessionCleared); n != 2 {
		t.Errorf("%d logout records in all; want 2", n)
	}
	// A batch that finds nothing writes no outbox entry.
	if again, err := s.DeleteSessions(ctx, []session.Logout{{Hash: a.Hash()}}); err != nil || again.Found[0] || again.Outbox != 0 {
		t.Errorf("a batch of a deleted session = %+v, %v; want nothing found, no entry", again, err)
	}
}

// Concurrent logins from known devices share one statement: each row is
// checked as alone (an inactive user or one with a limit takes the full
// path), each session gets its audit record with its own actor, and a
// batch Postgres rejects as a whole (a duplicate token) writes nothing and
// is written again one login at a time.
func TestConcurrentLoginsShareABatch(t *testing.T) {
	t.Parallel()
	s, pool := setup(t)
	ctx := context.Background()
	one := 1
	for _, u := range []session.User{
		{ID: "ba", Username: "ba", IsActive: true, Roles: []string{}},
		{ID: "bb", Username: "bb", IsActive: true, Roles: []string{}},
		{ID: "bl", Username: "bl", IsActive: true, Roles: []string{}, MaxSessions: &one},
		{ID: "bi", Username: "bi", IsActive: true, Roles: []string{}},
	} {
		if _, _, _, err := s.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		// The device becomes known: the next logins take the batched path.
		if _, _, _, err := create(t, s, u.ID, session.Limit{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := s.UpsertUser(ctx, session.User{ID: "bi", Username: "bi", IsActive: false, Roles: []string{}}); err != nil {
		t.Fatal(err)
	}

	type login struct {
		user string
		hash session.Hash
		amr  []string
		oidc *session.OIDCRef
		at   time.Time // when it was made (microseconds, as stored)
		ss   session.Session
		ev   []session.Evicted
		err  error
	}
	run := func(ls []*login) {
		fs := make([]func(), len(ls))
		for i, l := range ls {
			if l.hash == (session.Hash{}) {
				tok, _ := session.NewToken()
				l.hash = tok.Hash()
			}
			ip := fmt.Sprintf("192.0.2.%d", 10+i)
			actx := session.WithActor(ctx, session.Actor{Kind: session.ActorAdmin, ClientIP: ip, UserAgent: "agent " + ip})
			fs[i] = func() {
				l.at = time.Now().UTC().Truncate(time.Microsecond)
				l.ss, l.ev, l.err = s.CreateSession(actx, session.NewSession{
					Hash: l.hash, ID: testenvUUID(t), UserID: l.user, CreatedAt: l.at, ExpiresAt: l.at.Add(time.Hour),
					IPAddress: "192.0.2.1", UserAgent: "ua", AuthenticatedAt: l.at, AMR: l.amr, OIDC: l.oidc,
				}, session.Limit{})
			}
		}
		if sizes := loginBatches(t, s, fs[0], fs[1:]...); !slices.Equal(sizes, []int{1, len(ls) - 1}) {
			t.Errorf("batches of %v; want 1 and then the other %d", sizes, len(ls)-1)
		}
	}

	oidc := &session.OIDCRef{Issuer: "https://idp.example", Subject: "s-1", SessionID: "sid-1"}
	ls := []*login{
		{user: "ba"}, {user: "ba", amr: []string{"pwd", "otp"}}, {user: "bb", oidc: oidc}, {user: "bb"},
		{user: "bl"}, {user: "bi"},
	}
	run(ls)
	for i, l := range ls[:4] {
		if l.err != nil || l.ss.UserID != l.user || len(l.ev) != 0 {
			t.Errorf("login %d of %s = %+v, %v, %v; want a session", i, l.user, l.ss, l.ev, l.err)
			continue
		}
		r, err := s.Restore(ctx, l.hash)
		if err != nil || r.Session.ID != l.ss.ID || !slices.Equal(r.Session.AMR, nonNil(l.amr)) || r.Session.Kind != session.KindSession ||
			!r.Session.CreatedAt.Equal(l.at) || !r.Session.ExpiresAt.Equal(l.at.Add(time.Hour)) || !r.Session.AuthenticatedAt.Equal(l.at) ||
			r.Session.IPAddress != "192.0.2.1" || r.Session.UserAgent != "ua" || !l.ss.CreatedAt.Equal(l.at) {
			t.Errorf("login %d restored = %+v, %v; want session %s with AMR %v", i, r.Session, err, l.ss.ID, l.amr)
		}
	}
	// One statement wrote them: one transaction.
	if n := countRows(t, pool, `SELECT count(DISTINCT xmin::text) FROM sessions WHERE public_id = ANY($1::uuid[])`,
		[]string{ls[1].ss.ID, ls[2].ss.ID, ls[3].ss.ID}); n != 1 { // ls[0] was the first batch, alone
		t.Errorf("the batched sessions were written by %d transactions; want 1", n)
	}
	if n := countRows(t, pool, `SELECT count(*) FROM sessions WHERE public_id = $1 AND oidc_iss = $2 AND oidc_sub = $3 AND oidc_sid = $4`,
		ls[2].ss.ID, oidc.Issuer, oidc.Subject, oidc.SessionID); n != 1 {
		t.Errorf("the OIDC-linked login's row: %d; want its references stored", n)
	}
	if ls[4].err != nil || len(ls[4].ev) != 1 {
		t.Errorf("login of a user at a limit of 1 = %v evicted, %v; want the full path, one evicted", ls[4].ev, ls[4].err)
	}
	if !errors.Is(ls[5].err, session.ErrConflict) {
		t.Errorf("login of an inactive user: %v; want ErrConflict", ls[5].err)
	}
	if _, err := s.SequenceAudit(ctx); err != nil {
		t.Fatal(err)
	}
	for i, l := range ls[:5] {
		ip := fmt.Sprintf("192.0.2.%d", 10+i)
		details := string(session.AuditDetails(session.SessionCreatedEntry(l.ss).Details))
		if n := countRows(t, pool, `SELECT count(*) FROM audit_log WHERE event = $1 AND session_id = $2 AND user_id = $3 AND client_ip = $4 AND user_agent = $5 AND actor = $6 AND details = $7`,
			session.EventSessionCreated, l.ss.ID, l.user, ip, "agent "+ip, session.ActorAdmin, details); n != 1 {
			t.Errorf("%d creation records of login %d with its actor; want 1", n, i)
		}
	}

	// A duplicate token fails the batch as a whole: written again one by
	// one, the others succeed once and the duplicate alone is refused.
	dup := []*login{{user: "ba"}, {user: "bb"}, {user: "ba", hash: ls[0].hash}, {user: "bb"}}
	run(dup)
	for i, l := range dup {
		switch {
		case i == 2 && !errors.Is(l.err, session.ErrConflict):
			t.Errorf("the duplicate token: %v; want ErrConflict", l.err)
		case i != 2 && l.err != nil:
			t.Errorf("login %d beside a duplicate: %v", i, l.err)
		}
	}
	if _, err := s.SequenceAudit(ctx); err != nil {
		t.Fatal(err)
	}
	if n, m := countRows(t, pool, `SELECT count(*) FROM sessions`), countRows(t, pool, `SELECT count(*) FROM audit_log WHERE event = $1`, session.EventSessionCreated); n+1 != m {
		// Every creation has exactly one record; one session (bl's first) was evicted.
		t.Errorf("%d sessions and %d creation records; want one record per creation", n, m)
	}
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// loginBatches runs first, holds its batch of logins until every one of
// rest is queued behind it, then lets them go; it returns the sizes of the
// batches written.
func loginBatches(t *testing.T, s *postgres.Store, first func(), rest ...func()) []int {
	t.Helper()
	var (
		mu      sync.Mutex
		sizes   []int
		release = make(chan struct{})
	)
	s.BeforeLoginBatch(func(n int) {
		mu.Lock()
		sizes = append(sizes, n)
		held := len(sizes) == 1
		mu.Unlock()
		if held {
			<-release
		}
	})
	var wg sync.WaitGroup
	wg.Go(first)
	waitFor(t, "the first batch to start", func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 1 })
	for _, f := range rest {
		wg.Go(f)
	}
	waitFor(t, "the other logins to queue", func() bool { return s.PendingLogins() == len(rest) })
	close(release)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(sizes)
}

// waitFor polls cond until it holds (the test's deadline bounds it).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// The batch statements take their batch as one JSON parameter. Without
// prepared statements (pgx's exec modes, which PgBouncer's transaction
// pooling may need) pgx types a parameter by its Go type: a login batch
// and a logout batch must work there too.
func TestBatchesWithoutPreparedStatements(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, pool := setupAt(t, pgtest.New(t)+"&default_query_exec_mode="+mode)
			userWithSession(t, s, "wa") // the device is known from here on
			toks := make([]session.Token, 3)
			made := make([]session.Session, 3)
			errs := make([]error, 3)
			fs := make([]func(), 3)
			for i := range fs {
				fs[i] = func() { toks[i], made[i], _, errs[i] = create(t, s, "wa", session.Limit{}) }
			}
			if sizes := loginBatches(t, s, fs[0], fs[1:]...); !slices.Equal(sizes, []int{1, 2}) {
				t.Errorf("batches of %v; want 1, 2", sizes)
			}
			for i, err := range errs {
				if err != nil {
					t.Fatalf("login %d: %v", i, err)
				}
			}
			// Written by the batch statement (a rejected batch would have
			// fallen back to single creates: two transactions).
			if n := countRows(t, pool, `SELECT count(DISTINCT xmin::text) FROM sessions WHERE public_id = ANY($1::uuid[])`,
				[]string{made[1].ID, made[2].ID}); n != 1 {
				t.Errorf("the batch's sessions were written by %d transactions; want 1", n)
			}
			out, err := s.DeleteSessions(ctx, []session.Logout{{Hash: toks[1].Hash()}, {Hash: toks[2].Hash()}})
			if err != nil || !slices.Equal(out.Found, []bool{true, true}) {
				t.Fatalf("DeleteSessions = %+v, %v; want both found", out, err)
			}
			if _, err := s.Restore(ctx, toks[0].Hash()); err != nil {
				t.Errorf("the session not logged out: %v", err)
			}
			// Logins from new devices: the batch that records them.
			for i := range fs {
				fs[i] = func() {
					_, made[i], _, errs[i] = createFrom(t, s, "wa", session.Client{IP: fmt.Sprintf("192.0.2.%d", 50+i), UserAgent: fmt.Sprintf("new %d", i)}, session.Limit{})
				}
			}
			if sizes := loginBatches(t, s, fs[0], fs[1:]...); !slices.Equal(sizes, []int{1, 2}) {
				t.Errorf("batches of new devices: %v; want 1, 2", sizes)
			}
			for i, err := range errs {
				if err != nil || !made[i].NewDevice {
					t.Fatalf("login %d from a new device: new device %v, %v; want flagged", i, made[i].NewDevice, err)
				}
			}
			if n := countRows(t, pool, `SELECT count(DISTINCT xmin::text) FROM sessions WHERE public_id = ANY($1::uuid[]) AND new_device`,
				[]string{made[1].ID, made[2].ID}); n != 1 {
				t.Errorf("the new devices' batch was written by %d transactions; want 1", n)
			}
		})
	}
}

// Logins from devices a replica does not know yet (its first login of a
// user within the hour) are batched too, and record their devices and
// flag new ones exactly as the full path does for one login.
func TestLoginBatchesRecordDevices(t *testing.T) {
	t.Parallel()
	s, pool := setup(t)
	ctx := context.Background()
	// Another replica's store: the devices it records are in the database
	// but unknown to s.
	other := postgres.NewStore(pool)
	old := session.Client{IP: "198.51.100.1", UserAgent: "old"}
	// A webhook endpoint: the insert triggers write the sessions' events.
	if _, err := pool.Exec(ctx, `INSERT INTO webhook_endpoints (name) VALUES ('ep')`); err != nil {
		t.Fatal(err)
	}
	one := 1
	for _, u := range []struct {
		id      string
		max     *int
		device  bool // a session from old, through other
		enabled bool
	}{{"dz", nil, false, true}, {"da", nil, true, true}, {"db", nil, false, true}, {"dc", nil, true, true},
		{"dd", nil, true, true}, {"dl", &one, true, true}, {"di", nil, false, false},
		{"de", nil, true, true}, {"df", nil, true, true}, {"dj", nil, false, false}} {
		if _, _, _, err := s.UpsertUser(ctx, session.User{ID: u.id, Username: u.id, IsActive: u.enabled, Roles: []string{}, MaxSessions: u.max}); err != nil {
			t.Fatal(err)
		}
		if u.device {
			if _, _, _, err := createFrom(t, other, u.id, old, session.Limit{}); err != nil {
				t.Fatal(err)
			}
		}
	}

	type login struct {
		user, ip, ua string
		newDevice    bool     // want
		fresh        []string // want, when newDevice
		ss           session.Session
		ev           []session.Evicted
		err          error
	}
	both := []string{session.DeviceAddress, session.DeviceUserAgent}
	ls := []*login{
		{user: "dz", ip: "192.0.2.9", ua: "z"},                                  // the first batch, alone: createOne
		{user: "da", ip: "192.0.2.10", ua: "new", newDevice: true, fresh: both}, // a new device
		{user: "db", ip: "192.0.2.11", ua: "first"},                             // a user's first device is not new
		{user: "dc", ip: "192.0.2.12", ua: "b", newDevice: true},                // new, and the later of the two
		{user: "dc", ip: "192.0.2.12", ua: "c", newDevice: true},                // finds its address known (checked below)
		{user: "dd", ip: old.IP, ua: old.UserAgent},                             // known to the database
		{user: "dl", ip: "192.0.2.14", ua: "l", newDevice: true, fresh: both},   // limited: the full path
		{user: "di", ip: "192.0.2.15", ua: "i"},                                 // inactive: refused
	}
	fs := make([]func(), len(ls))
	for i, l := range ls {
		fs[i] = func() {
			_, l.ss, l.ev, l.err = createFrom(t, s, l.user, session.Client{IP: l.ip, UserAgent: l.ua}, session.Limit{})
		}
	}
	if sizes := loginBatches(t, s, fs[0], fs[1:]...); !slices.Equal(sizes, []int{1, len(ls) - 1}) {
		t.Errorf("batches of %v; want 1 and then the other %d", sizes, len(ls)-1)
	}
	// Lone logins from devices s does not know: one statement each
	// (createOne), after its lock in the same pipeline.
	lone := []*login{
		{user: "dz", ip: "192.0.2.9", ua: "z2", newDevice: true, fresh: both[1:]}, // only its user agent is new
		{user: "de", ip: "192.0.2.16", ua: "e", newDevice: true, fresh: both},     // a new device
		{user: "df", ip: old.IP, ua: old.UserAgent},                               // known to the database
		{user: "dj", ip: "192.0.2.17", ua: "j"},                                   // inactive: refused
	}
	for _, l := range lone {
		fs := func() {
			_, l.ss, l.ev, l.err = createFrom(t, s, l.user, session.Client{IP: l.ip, UserAgent: l.ua}, session.Limit{})
		}
		if sizes := loginBatches(t, s, fs); !slices.Equal(sizes, []int{1}) {
			t.Errorf("%s's lone login: batches of %v; want 1", l.user, sizes)
		}
	}
	if !errors.Is(lone[3].err, session.ErrConflict) {
		t.Errorf("the inactive user's lone login: %v; want ErrConflict", lone[3].err)
	}
	if n := countRows(t, pool, `SELECT count(*) FROM user_devices WHERE user_id = 'dj' AND kind = $1 AND value = $2`, session.DeviceAddress, lone[3].ip); n != 0 {
		t.Errorf("the refused lone login recorded its device")
	}
	for _, l := range lone[:3] {
		// Its session and its devices in one transaction.
		if n := countRows(t, pool, `SELECT count(DISTINCT x) FROM (
			SELECT xmin::text AS x FROM sessions WHERE public_id = $1
			UNION ALL SELECT xmin::text FROM user_devices WHERE user_id = $2 AND value IN ($3, $4)) t`, l.ss.ID, l.user, l.ip, l.ua); n != 1 {
			t.Errorf("%s's lone login was written by %d transactions; want 1", l.user, n)
		}
	}
	if _, err := s.SequenceAudit(ctx); err != nil {
		t.Fatal(err)
	}
	for i, l := range slices.Concat(ls[:7], lone[:3]) {
		if l.err != nil || l.ss.NewDevice != l.newDevice {
			t.Errorf("login %d of %s = new device %v, %v; want %v", i, l.user, l.ss.NewDevice, l.err, l.newDevice)
			continue
		}
		if n := countRows(t, pool, `SELECT count(*) FROM sessions WHERE public_id = $1 AND new_device = $2`, l.ss.ID, l.newDevice); n != 1 {
			t.Errorf("login %d's stored flag is not %v", i, l.newDevice)
		}
		if n := countRows(t, pool, `SELECT count(*) FROM user_devices WHERE user_id = $1 AND ((kind = $2 AND value = $3) OR (kind = $4 AND value = $5))`,
			l.user, session.DeviceAddress, l.ip, session.DeviceUserAgent, l.ua); n != 2 {
			t.Errorf("login %d: %d of its 2 devices recorded", i, n)
		}
		want := 0
		if l.newDevice {
			want = 1
		}
		details := string(session.AuditDetails(session.NewDeviceEntry(l.user, l.ss.ID, l.fresh).Details))
		if l.user == "dc" {
			details = `%` // which of the two is new in what depends on their order in the batch
		}
		if n := countRows(t, pool, `SELECT count(*) FROM audit_log WHERE event = $1 AND session_id = $2 AND user_id = $3 AND actor = $4 AND client_ip = $5 AND user_agent = $6 AND details LIKE $7`,
			session.EventSessionNewDevice, l.ss.ID, l.user, session.ActorSystem, l.ip, l.ua, details); n != want {
			t.Errorf("login %d: %d new-device records naming %s; want %d", i, n, details, want)
		}
		// Flagged as it was inserted: its webhook event follows its
		// session.created, and no invalidation was written for it (no
		// cache can hold a session before its creation commits).
		if n := countRows(t, pool, `SELECT count(*) FROM webhook_events c JOIN webhook_events d ON d.session_id = c.session_id
			WHERE c.session_id = $1 AND c.type = 'session.created' AND d.type = 'session.new_device' AND c.id < d.id
			AND d.data->>'ip_address' = $2 AND d.data->>'user_agent' = $3 AND d.data->>'user_id' = $4`, l.ss.ID, l.ip, l.ua, l.user); n != want {
			t.Errorf("login %d: %d session.new_device webhook events after its session.created; want %d", i, n, want)
		}
		if n := countRows(t, pool, `SELECT count(*) FROM invalidation_outbox o JOIN sessions s ON s.token_hash = ANY(o.hashes) WHERE s.public_id = $1`,
			l.ss.ID); n != 0 {
			t.Errorf("login %d: %d invalidations of its new session; want none", i, n)
		}
		// Its creation record comes first, as on the full path.
		if l.newDevice {
			if n := countRows(t, pool, `SELECT count(*) FROM audit_log c JOIN audit_log d ON d.session_id = c.session_id
				WHERE c.session_id = $1 AND c.event = $2 AND d.event = $3 AND c.seq < d.seq`, l.ss.ID, session.EventSessionCreated, session.EventSessionNewDevice); n != 1 {
				t.Errorf("login %d: its creation record does not precede its new-device record", i)
			}
		}
	}
	// A user's two logins in one batch: the first (in the chain's order)
	// met a new address and user agent, the second only a new user agent.
	var news []string
	rows, err := pool.Query(ctx, `SELECT details FROM audit_log WHERE event = $1 AND user_id = 'dc' AND session_id = ANY($2::uuid[]) ORDER BY seq`,
		session.EventSessionNewDevice, []string{ls[3].ss.ID, ls[4].ss.ID})
	if err == nil {
		news, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	wantNews := []string{string(session.AuditDetails(map[string]any{"new": both})), string(session.AuditDetails(map[string]any{"new": both[1:]}))}
	if err != nil || !slices.Equal(news, wantNews) {
		t.Errorf("dc's new-device records = %v, %v; want %v", news, err, wantNews)
	}
	if len(ls[6].ev) != 1 {
		t.Errorf("the limited user's login evicted %v; want its one session", ls[6].ev)
	}
	if !errors.Is(ls[7].err, session.ErrConflict) {
		t.Errorf("the inactive user's login: %v; want ErrConflict", ls[7].err)
	}
	if n := countRows(t, pool, `SELECT count(*) FROM user_devices WHERE user_id = 'di'`); n != 0 {
		t.Errorf("the refused login recorded %d devices; want none", n)
	}
	// The batched ones were one transaction.
	ids := make([]string, 0, 5)
	for _, l := range ls[1:6] {
		ids = append(ids, l.ss.ID)
	}
	if n := countRows(t, pool, `SELECT count(DISTINCT xmin::text) FROM sessions WHERE public_id = ANY($1::uuid[])`, ids); n != 1 {
		t.Errorf("the batched sessions were written by %d transactions; want 1", n)
	}
	// This replica knows the devices now: db's next login from the same
	// device writes none of them again.
	seenAt := `SELECT count(*) FROM user_devices WHERE user_id = 'db' AND last_seen = $1`
	before := countRows(t, pool, seenAt, ls[2].ss.CreatedAt)
	if _, _, _, err := createFrom(t, s, "db", session.Client{IP: ls[2].ip, UserAgent: ls[2].ua}, session.Limit{}); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, pool, seenAt, ls[2].ss.CreatedAt); before != 2 || n != 2 {
		t.Errorf("db's devices last seen at its first login: %d, then %d after a second one; want 2 and 2 (not written again)", before, n)
	}
}

// A lone login from an unknown device that waits for its user's lock
// counts the devices the lock's holder committed meanwhile, as the full
// path does: its statement reads the devices only once the lock is held.
func TestLoneLoginSeesDevicesCommittedWhileItWaited(t *testing.T) {
	t.Parallel()
	s, pool := setup(t)
	ctx := context.Background()
	activeUser(t, s, "dk")
	// Another transaction holds the user's row and records a first device.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT FROM users WHERE id = 'dk' FOR NO KEY UPDATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO user_devices (user_id, kind, value, first_seen, last_seen) VALUES ('dk', $1, '203.0.113.1', now(), now())`,
		session.DeviceAddress); err != nil {
		t.Fatal(err)
	}
	var ss session.Session
	done := make(chan error, 1)
	go func() {
		var err error
		_, ss, _, err = createFrom(t, s, "dk", session.Client{IP: "192.0.2.18", UserAgent: "k"}, session.Limit{})
		done <- err
	}()
	holder := tx.Conn().PgConn().PID()
	waitFor(t, "the login to wait for the user's lock", func() bool {
		return countRows(t, pool, `SELECT count(*) FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))`, holder) > 0
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !ss.NewDevice {
		t.Errorf("the login after the user's first device was committed is not flagged new")
	}
}

// A lone login recording its devices that a deadlock rolls back (another
// transaction recording the same user's devices in the other order, as an
// activity batch may) is written by the full path instead of failing. The
// deadlock is Postgres's error raised once by a trigger, so that which
// transaction a real deadlock would abort does not depend on timing.
func TestLoneLoginRolledBackByADeadlockTakesTheFullPath(t *testing.T) {
	t.Parallel()
	s, pool := setup(t)
	ctx := context.Background()
	activeUser(t, s, "dx")
	// nextval is not rolled back with the transaction it aborts: the
	// first device write raises the deadlock, the next ones pass.
	if _, err := pool.Exec(ctx, `
		CREATE SEQUENCE deadlock_once;
		CREATE FUNCTION deadlock_once() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('deadlock_once') = 1 THEN
				RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER deadlock_once BEFORE INSERT ON user_devices FOR EACH ROW EXECUTE FUNCTION deadlock_once();`); err != nil {
		t.Fatal(err)
	}
	_, ss, _, err := createFrom(t, s, "dx", session.Client{IP: "192.0.2.19", UserAgent: "x"}, session.Limit{})
	if err != nil {
		t.Fatalf("the login rolled back by the deadlock failed: %v", err)
	}
	if n := countRows(t, pool, `SELECT count(*) FROM sessions WHERE public_id = $1`, ss.ID); n != 1 {
		t.Errorf("the login's session was not written")
	}
	if n := countRows(t, pool, `SELECT count(*) FROM user_devices WHERE user_id = 'dx'`); n != 2 {
		t.Errorf("%d of the login's 2 devices recorded", n)
	}
	if n := countRows(t, pool, `SELECT last_value FROM deadlock_once`); n < 2 {
		t.Errorf("the deadlock was never raised (%d device writes)", n)
	}
}
