package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv"
)

type auditRecord struct {
	Seq       int64          `json:"seq"`
	At        time.Time      `json:"at"`
	Event     string         `json:"event"`
	UserID    string         `json:"user_id"`
	SessionID string         `json:"session_id"`
	ClientIP  string         `json:"client_ip"`
	UserAgent string         `json:"user_agent"`
	Actor     string         `json:"actor"`
	Details   map[string]any `json:"details"`
	Hash      string         `json:"hash"`
}

type auditPage struct {
	Records   []auditRecord `json:"records"`
	NextAfter *int64        `json:"next_after"`
}

type verification struct {
	OK       bool   `json:"ok"`
	Records  int64  `json:"records"`
	BrokenAt int64  `json:"broken_at"`
	Reason   string `json:"reason"`
	Head     struct {
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
	} `json:"head"`
}

func auditLog(t *testing.T, base, query string) auditPage {
	t.Helper()
	r := testenv.Do(t, http.MethodGet, base+"/v1/admin/audit"+query, nil, testenv.Admin()...)
	wantStatus(t, "audit "+query, r, http.StatusOK)
	var p auditPage
	r.Decode(t, &p)
	return p
}

func verifyAudit(t *testing.T, base, query string) verification {
	t.Helper()
	r := testenv.Do(t, http.MethodGet, base+"/v1/admin/audit/verify"+query, nil, testenv.Admin()...)
	wantStatus(t, "audit verify", r, http.StatusOK)
	var v verification
	r.Decode(t, &v)
	return v
}

func TestAuditRecordsTheLifecycle(t *testing.T) {
	t.Parallel()
	rep, clk := setup(t)
	base := rep.URL
	user(t, base, 1, "alice")
	tok1, id1 := testenv.NewSession(t, base, 1, false, "agent")
	tok2, id2 := testenv.NewSession(t, base, 1, true, "agent")
	tok3, id3 := testenv.NewSession(t, base, 1, false, "agent")
	_, id4 := testenv.NewSession(t, base, 1, false, "agent")
	_, id5 := testenv.NewSession(t, base, 1, false, "agent")

	ua := []string{"User-Agent", "test-browser"}
	wantStatus(t, "logout", testenv.Do(t, http.MethodDelete, base+"/v1/session", nil, append(testenv.Bearer(tok1), ua...)...), http.StatusNoContent)
	wantStatus(t, "revoke own", testenv.Do(t, http.MethodDelete, base+"/v1/session/all/"+id2, nil, testenv.Bearer(tok3)...), http.StatusNoContent)
	wantStatus(t, "admin revoke", testenv.Do(t, http.MethodDelete, base+"/v1/admin/sessions/"+id4, nil, testenv.Admin()...), http.StatusNoContent)
	wantStatus(t, "revoke others", testenv.Do(t, http.MethodDelete, base+"/v1/session/others", nil, testenv.Bearer(tok3)...), http.StatusOK)
	wantStatus(t, "bad admin token", testenv.Do(t, http.MethodGet, base+"/v1/admin/users/1", nil, "Authorization", "Bearer wrong-token-0123456789"), http.StatusUnauthorized)
	r := testenv.PutUser(t, base, 1, map[string]any{"username": "alice", "email": "new@example.com", "is_active": false, "roles": []string{}})
	wantStatus(t, "deactivate", r, http.StatusOK)
	user(t, base, 2, "bob")
	testenv.NewSession(t, base, 2, false, "")
	clk.Advance(25 * time.Hour)
	wantStatus(t, "cleanup", testenv.Do(t, http.MethodPost, base+"/v1/admin/cleanup", nil, testenv.Admin()...), http.StatusOK)
	wantStatus(t, "delete user", testenv.Do(t, http.MethodDelete, base+"/v1/admin/users/2", nil, testenv.Admin()...), http.StatusNoContent)

	type want struct {
		event, actor, sessionID string
		userID                  string
	}
	wants := []want{
		{session.EventUserCreated, "admin", "", "1"},
		{session.EventSessionCreated, "admin", id1, "1"},
		{session.EventSessionCreated, "admin", id2, "1"},
		{session.EventSessionCreated, "admin", id3, "1"},
		{session.EventSessionCreated, "admin", id4, "1"},
		{session.EventSessionCreated, "admin", id5, "1"},
		{session.EventSessionCleared, "self", id1, "1"},
		{session.EventSessionRevoked, "self", id2, "1"},
		{session.EventSessionRevoked, "admin", id4, "1"},
		{session.EventSessionsRevokedOthers, "self", id3, "1"},
		{session.EventAdminAuthFailed, "anonymous", "", ""},
		{session.EventUserDeactivated, "admin", "", "1"},
		{session.EventUserCreated, "admin", "", "2"},
		{session.EventSessionCreated, "admin", "", "2"},
		{session.EventSessionsExpired, "admin", "", ""},
		{session.EventUserDeleted, "admin", "", "2"},
	}
	page := auditLog(t, base, "")
	if len(page.Records) != len(wants) {
		for _, r := range page.Records {
			t.Logf("%d %s %s %s %s", r.Seq, r.Event, r.Actor, r.UserID, r.SessionID)
		}
		t.Fatalf("%d audit records; want %d", len(page.Records), len(wants))
	}
	for i, w := range wants {
		got := page.Records[i]
		if got.Seq != int64(i+1) || got.Event != w.event || got.Actor != w.actor || got.UserID != w.userID ||
			(w.sessionID != "" && got.SessionID != w.sessionID) || got.ClientIP != "127.0.0.1" {
			t.Errorf("record %d = %+v; want %+v from 127.0.0.1", i+1, got, w)
		}
	}
	if got := page.Records[6]; got.UserAgent != "test-browser" {
		t.Errorf("logout record's user agent = %q", got.UserAgent)
	}
	if d := page.Records[9].Details; d["count"] != float64(1) { // id3 kept, only id5 was left
		t.Errorf("revoke others details = %v; want count 1", d)
	}
	if d := page.Records[11].Details; fmt.Sprint(d["changed"]) != "[email is_active]" {
		t.Errorf("deactivation details = %v; want the changed fields, not their values", d)
	}
	if d := page.Records[14].Details; d["count"] != float64(2) { // id3 and bob's session expired
		t.Errorf("cleanup details = %v; want count 2", d)
	}
	body := string(testenv.Do(t, http.MethodGet, base+"/v1/admin/audit?limit=1000", nil, testenv.Admin()...).Body)
	for _, tok := range []string{tok1, tok2, tok3} {
		if strings.Contains(body, tok) {
			t.Errorf("a session token appears in the audit log")
		}
	}
	if strings.Contains(body, "new@example.com") {
		t.Errorf("a changed value (email) appears in the audit log")
	}

	// Paging and filtering.
	p1 := auditLog(t, base, "?limit=10")
	if len(p1.Records) != 10 || p1.NextAfter == nil || *p1.NextAfter != 10 {
		t.Fatalf("page 1: %d records, next_after %v", len(p1.Records), p1.NextAfter)
	}
	p2 := auditLog(t, base, fmt.Sprintf("?limit=10&after=%d", *p1.NextAfter))
	if len(p2.Records) != len(wants)-10 || p2.NextAfter != nil || p2.Records[0].Seq != 11 {
		t.Errorf("page 2: %d records from %d, next_after %v", len(p2.Records), p2.Records[0].Seq, p2.NextAfter)
	}
	if bob := auditLog(t, base, "?user_id=2"); len(bob.Records) != 3 {
		t.Errorf("user 2's records: %d; want 3", len(bob.Records))
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?after=-1", "?user_id=a%20b"} {
		r := testenv.Do(t, http.MethodGet, base+"/v1/admin/audit"+q, nil, testenv.Admin()...)
		wantStatus(t, "audit "+q, r, http.StatusBadRequest)
	}
	wantStatus(t, "verify with a bad head", testenv.Do(t, http.MethodGet, base+"/v1/admin/audit/verify?expect_head=3:zz", nil, testenv.Admin()...), http.StatusBadRequest)

	v := verifyAudit(t, base, "")
	if !v.OK || v.Records != int64(len(wants)) || v.Head.Seq != int64(len(wants)) || v.Head.Hash != page.Records[len(wants)-1].Hash {
		t.Errorf("verify = %+v; want OK over %d records", v, len(wants))
	}
	if v := verifyAudit(t, base, fmt.Sprintf("?expect_head=5:%s", page.Records[4].Hash)); !v.OK {
		t.Errorf("verify with the true head of record 5 = %+v", v)
	}
}

// auditFixture makes n audit records (user and session creations) and
// returns the replica and a connection pool on its schema.
func auditFixture(t *testing.T, n int) (*testenv.Replica, *pgxpool.Pool) {
	t.Helper()
	rep, _ := setup(t)
	user(t, rep.URL, 1, "alice")
	for range n - 1 {
		testenv.NewSession(t, rep.URL, 1, false, "")
	}
	// Chained now, so the tests can edit audit_log directly.
	if _, err := postgres.NewStore(rep.Gateway.Pool()).SequenceAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rep, rep.Gateway.Pool()
}

func TestAuditVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	exec := func(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		tamper   func(t *testing.T, pool *pgxpool.Pool)
		brokenAt int64
	}{
		{"edited details", func(t *testing.T, p *pgxpool.Pool) {
			exec(t, p, `UPDATE audit_log SET details = '{"remember_me":true}' WHERE seq = 3`)
		}, 3},
		{"edited time", func(t *testing.T, p *pgxpool.Pool) {
			exec(t, p, `UPDATE audit_log SET at = at - interval '1 day' WHERE seq = 4`)
		}, 4},
		{"deleted record", func(t *testing.T, p *pgxpool.Pool) { exec(t, p, `DELETE FROM audit_log WHERE seq = 3`) }, 3},
		{"reordered records", func(t *testing.T, p *pgxpool.Pool) {
			exec(t, p, `UPDATE audit_log SET seq = -2 WHERE seq = 2`)
			exec(t, p, `UPDATE audit_log SET seq = 2 WHERE seq = 3`)
			exec(t, p, `UPDATE audit_log SET seq = 3 WHERE seq = -2`)
		}, 2},
		{"deleted last record", func(t *testing.T, p *pgxpool.Pool) { exec(t, p, `DELETE FROM audit_log WHERE seq = 6`) }, 6},
		{"edited and rehashed record", func(t *testing.T, p *pgxpool.Pool) {
			// Recomputing the record's own hash still breaks the next link.
			exec(t, p, `UPDATE audit_log SET actor = 'system' WHERE seq = 2`)
			rehash(t, p, 2, 2)
		}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rep, pool := auditFixture(t, 6)
			if v := verifyAudit(t, rep.URL, ""); !v.OK || v.Records != 6 {
				t.Fatalf("before tampering: %+v", v)
			}
			c.tamper(t, pool)
			v := verifyAudit(t, rep.URL, "")
			if v.OK || v.BrokenAt != c.brokenAt || v.Reason == "" {
				t.Errorf("after tampering: %+v; want broken at %d", v, c.brokenAt)
			}
		})
	}
}

// rehash recomputes hashes of records from..to and the head, as an
// attacker with write access to the database would.
func rehash(t *testing.T, pool *pgxpool.Pool, from, to int64) {
	t.Helper()
	ctx := context.Background()
	for seq := from; seq <= to; seq++ {
		var r session.AuditRecord
		var details string
		if err := pool.QueryRow(ctx, `SELECT seq, at, event, coalesce(user_id, ''), coalesce(session_id::text, ''), client_ip, user_agent, actor, details, prev_hash
			FROM audit_log WHERE seq = $1`, seq).Scan(&r.Seq, &r.At, &r.Event, &r.UserID, &r.SessionID, &r.ClientIP, &r.UserAgent, &r.Actor, &details, (*[]byte)(&r.PrevHash)); err != nil {
			t.Fatal(err)
		}
		r.Details = json.RawMessage(details)
		h := session.ChainHash(r.PrevHash, r)
		if _, err := pool.Exec(ctx, `UPDATE audit_log SET hash = $2 WHERE seq = $1`, seq, h); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `UPDATE audit_log SET prev_hash = $2 WHERE seq = $1`, seq+1, h); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditAnchoredHeadCatchesARewrite(t *testing.T) {
	t.Parallel()
	rep, pool := auditFixture(t, 5)
	head := verifyAudit(t, rep.URL, "").Head
	anchor := fmt.Sprintf("%d:%s", head.Seq, head.Hash)
	if head.Seq != 5 || len(head.Hash) != 64 {
		t.Fatalf("head = %+v; want record 5 and a SHA-256", head)
	}
	testenv.NewSession(t, rep.URL, 1, false, "") // record 6 after the anchor
	if v := verifyAudit(t, rep.URL, "?expect_head="+anchor); !v.OK || v.Records != 6 {
		t.Fatalf("verify against the anchor before a rewrite: %+v", v)
	}
	// Rewrite record 2 and every hash after it, head included: the chain is
	// consistent again, and only the anchor can tell.
	if _, err := pool.Exec(context.Background(), `UPDATE audit_log SET actor = 'system' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	rehash(t, pool, 2, 6)
	var last []byte
	if err := pool.QueryRow(context.Background(), `SELECT hash FROM audit_log WHERE seq = 6`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `UPDATE audit_head SET hash = $1`, last); err != nil {
		t.Fatal(err)
	}
	if v := verifyAudit(t, rep.URL, ""); !v.OK {
		t.Fatalf("a full rewrite is consistent without an anchor: %+v", v)
	}
	if v := verifyAudit(t, rep.URL, "?expect_head="+anchor); v.OK || v.BrokenAt != 5 {
		t.Errorf("verify with the anchor after a rewrite = %+v; want broken at 5", v)
	}
	wrong := "5:" + hex.EncodeToString(make([]byte, sha256.Size))
	if v := verifyAudit(t, rep.URL, "?expect_head="+wrong); v.OK {
		t.Errorf("verify accepted a head that never was")
	}
	if v := verifyAudit(t, rep.URL, "?expect_head=99:"+strings.TrimPrefix(anchor, "5:")); v.OK || v.BrokenAt != 99 {
		t.Errorf("verify with a head beyond the chain = %+v", v)
	}
}

func TestAuditChainFromConcurrentReplicas(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	reps := []*testenv.Replica{testenv.Start(t, cfg, gateway.Options{}), testenv.Start(t, cfg, gateway.Options{}), testenv.Start(t, cfg, gateway.Options{})}
	user(t, reps[0].URL, 1, "alice")
	const perReplica = 15
	var wg sync.WaitGroup
	for _, rep := range reps {
		wg.Go(func() {
			for range perReplica {
				tok, id := testenv.NewSession(t, rep.URL, 1, false, "")
				if testenv.Do(t, http.MethodDelete, rep.URL+"/v1/admin/sessions/"+id, nil, testenv.Admin()...).Status != http.StatusNoContent {
					t.Errorf("revoke failed")
				}
				_ = tok
			}
		})
	}
	wg.Wait()
	want := int64(1 + 2*perReplica*len(reps))
	v := verifyAudit(t, reps[1].URL, "")
	if !v.OK || v.Records != want {
		t.Errorf("after concurrent appends from three replicas: %+v; want one unbroken chain of %d", v, want)
	}
}

func TestAbortedRevokeLeavesNoAuditRecord(t *testing.T) {
	t.Parallel()
	rep, pool := auditFixture(t, 2)
	tok, id := testenv.NewSession(t, rep.URL, 1, false, "")
	ctx := context.Background()
	// Make the audit record of a revoke fail to be written (it is written
	// to audit_pending in the change's transaction, and chained later): the
	// revoke's transaction must roll back as a whole.
	if _, err := pool.Exec(ctx, `
		CREATE FUNCTION refuse_revoke_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.event = 'session.revoked' THEN RAISE EXCEPTION 'audit refused'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER refuse_revoke_audit BEFORE INSERT ON audit_pending FOR EACH ROW EXECUTE FUNCTION refuse_revoke_audit();`); err != nil {
		t.Fatal(err)
	}
	r := testenv.Do(t, http.MethodDelete, rep.URL+"/v1/admin/sessions/"+id, nil, testenv.Admin()...)
	if r.Status == http.StatusNoContent {
		t.Fatalf("revoke succeeded although its audit record could not be written")
	}
	wantStatus(t, "session after the aborted revoke", auth(t, rep.URL, tok), http.StatusOK)
	for _, rec := range auditLog(t, rep.URL, "").Records {
		if rec.Event == session.EventSessionRevoked {
			t.Errorf("an aborted revoke left an audit record: %+v", rec)
		}
	}
	if v := verifyAudit(t, rep.URL, ""); !v.OK {
		t.Errorf("chain after the aborted revoke: %+v", v)
	}
	if _, err := pool.Exec(ctx, `DROP TRIGGER refuse_revoke_audit ON audit_pending`); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "revoke", testenv.Do(t, http.MethodDelete, rep.URL+"/v1/admin/sessions/"+id, nil, testenv.Admin()...), http.StatusNoContent)
	wantStatus(t, "session after the revoke", auth(t, rep.URL, tok), http.StatusUnauthorized)
	recs := auditLog(t, rep.URL, "").Records
	if last := recs[len(recs)-1]; last.Event != session.EventSessionRevoked || last.SessionID != id {
		t.Errorf("last record = %+v; want the revoke", last)
	}
}

// TestAuditTailTruncation: records removed from the end with the head
// rolled back (or the whole log truncated and the head reset) are
// consistent on their own; only an anchor taken after them catches it,
// which the gateway publishes at every checkpoint (a log line at info and
// sessiongw_audit_head_seq).
func TestAuditTailTruncation(t *testing.T) {
	t.Parallel()
	rep, pool := auditFixture(t, 6)
	// The checkpoint the replica logged at start, and one after the records
	// to be removed (what an operator keeps outside the database).
	if !rep.Logs.Contains(`"msg":"audit checkpoint"`) {
		t.Errorf("no audit checkpoint in the log:\n%s", rep.Logs)
	}
	head := verifyAudit(t, rep.URL, "").Head
	anchor := fmt.Sprintf("%d:%s", head.Seq, head.Hash)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `DELETE FROM audit_log WHERE seq > 4;
		UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4)`); err != nil {
		t.Fatal(err)
	}
	if v := verifyAudit(t, rep.URL, ""); !v.OK || v.Records != 4 {
		t.Errorf("a truncated tail with its head rolled back, no anchor: %+v (undetectable, as documented)", v)
	}
	if v := verifyAudit(t, rep.URL, "?expect_head="+anchor); v.OK {
		t.Errorf("verify against an anchor taken after the removed records passed: %+v", v)
	}
	if _, err := pool.Exec(ctx, `TRUNCATE audit_log; UPDATE audit_head SET seq = 0, hash = decode(repeat('00', 32), 'hex')`); err != nil {
		t.Fatal(err)
	}
	if v := verifyAudit(t, rep.URL, "?expect_head="+anchor); v.OK {
		t.Errorf("verify of a truncated log against an anchor passed: %+v", v)
	}
	m := string(testenv.Do(t, http.MethodGet, rep.URL+"/metrics", nil).Body)
	if !strings.Contains(m, "sessiongw_audit_head_seq ") {
		t.Error("no sessiongw_audit_head_seq metric")
	}
}
