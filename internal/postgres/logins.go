package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Group commit of logins. The common login (a known device, a user with
// no session limit) is one statement of its own (createOne). Concurrent
// ones on a replica are gathered instead into one statement that inserts
// all their sessions and audit records: one round trip, one commit, one
// run of the insert triggers for the batch. Each login still returns only
// after its own session is committed, with the same checks per row as
// alone: its user is locked (in id order, so batches cannot deadlock on
// users), active and without a limit, or nothing of that login is written
// and it takes the full path, as alone.
//
// One batch is written at a time per replica; the logins that arrive
// meanwhile form the next one, so a lone login waits for nobody. A batch
// that Postgres rejects as a whole (one row's unique violation, a
// deadlock with another transaction) writes nothing, and its logins take
// the full path one by one, each meeting its own error alone.

// maxLoginBatch bounds the sessions of one batch statement.
const maxLoginBatch = 100

// loginBatchTimeout bounds a batch's statement, which runs for all its
// callers and so under none of their cancellations (the default store
// timeout).
const loginBatchTimeout = 5 * time.Second

type loginQueue struct {
	mu      sync.Mutex
	pending []*loginCall
	writing bool // a batch is being written
}

type loginCall struct {
	ctx   context.Context // the request's: a batch runs under its first call's (tracing), never cancelled by it
	n     session.NewSession
	limit int // the default session limit the batch applies
	ss    session.Session
	ok    bool  // the session was written (false: the caller takes the full path)
	err   error // the batch failed (Postgres unreachable, the batch timed out)
	done  chan struct{}
}

// createBatched is createOne with whatever other logins are pending.
func (s *Store) createBatched(ctx context.Context, n session.NewSession, limit session.Limit) (session.Session, bool, error) {
	c := &loginCall{ctx: ctx, n: n, limit: limit.Default, done: make(chan struct{})}
	q := &s.logins
	q.mu.Lock()
	q.pending = append(q.pending, c)
	start := !q.writing
	q.writing = true
	q.mu.Unlock()
	if start {
		go s.writeLogins()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		// The batch goes on; this caller learns what a statement cut short
		// tells it (unavailable: 503).
		return session.Session{}, false, ctx.Err()
	}
	return c.ss, c.ok, c.err
}

// writeLogins writes the pending logins, a batch at a time, until none is
// left. A batch holds logins under one default limit (a replica has one).
func (s *Store) writeLogins() {
	q := &s.logins
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.writing = false
			q.mu.Unlock()
			return
		}
		var batch, rest []*loginCall
		for _, c := range q.pending {
			if len(batch) < maxLoginBatch && c.limit == q.pending[0].limit {
				batch = append(batch, c)
			} else {
				rest = append(rest, c)
			}
		}
		q.pending = rest
		q.mu.Unlock()
		if s.beforeLoginBatch != nil {
			s.beforeLoginBatch(len(batch))
		}
		s.writeLoginBatch(batch)
	}
}

func (s *Store) writeLoginBatch(batch []*loginCall) {
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), loginBatchTimeout)
	defer cancel()
	if len(batch) == 1 {
		c := batch[0]
		c.ss, c.ok, c.err = s.createOne(ctx, c.n, session.Limit{Default: c.limit})
		return
	}
	made, err := s.createMany(ctx, batch)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (isDeadlock(err) || !unavailable(err)) {
		// Rejected as a whole, nothing written: each login takes the
		// full path, alone, and meets its own error there.
		return
	}
	for _, c := range batch {
		c.ss, c.ok = made[c.n.ID]
		c.err = err
	}
}

// createMany inserts the sessions of batch whose users are active and
// without a limit, with their audit records, in one statement; it returns
// the sessions written by public id.
func (s *Store) createMany(ctx context.Context, batch []*loginCall) (map[string]session.Session, error) {
	var (
		hashes                                     [][]byte
		ids, users, ips, uas, amrs, names          []string
		created, expires, authAt                   []time.Time
		remember                                   []bool
		iss, sub, sid                              []*string
		events, clientIPs, clientUAs, actors, dets []string
		aUsers, aSessions, aEventsOf               []*string
	)
	for _, c := range batch {
		n := c.n
		// A text[] per row does not fit a pgx array (it must be
		// rectangular): each row's methods go as one JSON array.
		amr, err := json.Marshal(nonNilStrings(n.AMR))
		if err != nil {
			return nil, err
		}
		hashes, ids, users = append(hashes, n.Hash[:]), append(ids, n.ID), append(users, n.UserID)
		created, expires, authAt = append(created, n.CreatedAt), append(expires, n.ExpiresAt), append(authAt, n.AuthenticatedAt)
		ips, uas, remember = append(ips, n.IPAddress), append(uas, n.UserAgent), append(remember, n.RememberMe)
		amrs, names = append(amrs, string(amr)), append(names, n.Name)
		is, su, si := oidcArgs(n.OIDC)
		iss, sub, sid = append(iss, is), append(sub, su), append(sid, si)
		a := auditValuesOf(c.ctx, createdEntry(n))
		events, clientIPs, clientUAs, actors, dets = append(events, a.event), append(clientIPs, a.clientIP),
			append(clientUAs, a.userAgent), append(actors, a.actor), append(dets, a.details)
		aUsers, aSessions, aEventsOf = append(aUsers, a.userID), append(aSessions, a.sessionID), append(aEventsOf, a.eventsOf)
	}
	rows, err := s.pool.Query(ctx, `
		WITH i AS (
			SELECT * FROM unnest($1::bytea[], $2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[],
				$7::text[], $8::bool[], $9::timestamptz[], $10::jsonb[], $11::text[], $12::text[], $13::text[], $14::text[],
				$15::text[], $16::text[], $17::uuid[], $18::text[], $19::text[], $20::text[], $21::text[], $22::uuid[])
			AS t(token_hash, public_id, user_id, created_at, expires_at, ip_address, user_agent, remember_me, authenticated_at,
				amr, name, oidc_iss, oidc_sub, oidc_sid,
				a_event, a_user_id, a_session_id, a_client_ip, a_user_agent, a_actor, a_details, a_events_of)),
		u AS (
			SELECT id FROM users WHERE id IN (SELECT user_id FROM i) AND is_active
			AND NOT coalesce(max_sessions, $23::int) > 0
			ORDER BY id FOR NO KEY UPDATE),
		ins AS (
			INSERT INTO sessions `+insertCols+`
			SELECT token_hash, public_id, user_id, created_at, expires_at, created_at, ip_address, ip_address,
				user_agent, remember_me, authenticated_at, ARRAY(SELECT jsonb_array_elements_text(amr)), 'session', name,
				NULL, oidc_iss, oidc_sub, oidc_sid
			FROM i WHERE user_id IN (SELECT id FROM u)
			RETURNING `+sessionCols+`),
		a AS (
			INSERT INTO audit_pending (event, user_id, session_id, client_ip, user_agent, actor, details, events_of)
			SELECT i.a_event, i.a_user_id, i.a_session_id, i.a_client_ip, i.a_user_agent, i.a_actor, i.a_details, i.a_events_of
			FROM i JOIN ins ON ins.public_id = i.public_id)
		SELECT `+sessionCols+` FROM ins`,
		hashes, ids, users, created, expires, ips, uas, remember, authAt, amrs, names, iss, sub, sid,
		events, aUsers, aSessions, clientIPs, clientUAs, actors, dets, aEventsOf, batch[0].limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	made := make(map[string]session.Session, len(batch))
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		made[ss.ID] = ss
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, ss := range made {
		s.remember(ss.UserID, session.Client{IP: ss.IPAddress, UserAgent: ss.UserAgent})
	}
	return made, nil
}

func nonNilStrings(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
