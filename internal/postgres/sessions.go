package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/webhook"
)

// sessionCols are the columns scanSession reads (prefixed "s." where a
// query joins users).
const sessionCols = `public_id, user_id, created_at, expires_at, last_activity_at, ip_address, last_ip_address, user_agent,
	remember_me, new_device, authenticated_at, amr, kind, name`

var sessionColsS = "s." + strings.ReplaceAll(strings.ReplaceAll(sessionCols, "\n\t", " "), ", ", ", s.")

// scanSession scans a row of sessionCols, then extra destinations.
func scanSession(row pgx.Row, extra ...any) (session.Session, error) {
	var sr sessionRow
	if err := row.Scan(append(sr.dest(), extra...)...); err != nil {
		return session.Session{}, err
	}
	return sr.session(), nil
}

// sessionRow is one row of sessionCols as scanned. The public id goes
// into a pgtype.UUID, which pgx fills from the binary value directly (a
// uuid.UUID is a sql.Scanner, so pgx would format it as text for the
// Scanner to parse back).
type sessionRow struct {
	ss session.Session
	id pgtype.UUID
}

// dest returns the scan destinations of sessionCols, in order.
func (sr *sessionRow) dest() []any {
	ss := &sr.ss
	return []any{&sr.id, &ss.UserID, &ss.CreatedAt, &ss.ExpiresAt, &ss.LastActivityAt, &ss.IPAddress, &ss.LastIPAddress, &ss.UserAgent,
		&ss.RememberMe, &ss.NewDevice, &ss.AuthenticatedAt, &ss.AMR, &ss.Kind, &ss.TokenName}
}

// session returns the scanned session: its id in text, its times in UTC
// and its methods never nil.
func (sr *sessionRow) session() session.Session {
	ss := sr.ss
	ss.ID = uuid.UUID(sr.id.Bytes).String()
	ss.CreatedAt, ss.ExpiresAt, ss.LastActivityAt = ss.CreatedAt.UTC(), ss.ExpiresAt.UTC(), ss.LastActivityAt.UTC()
	ss.AuthenticatedAt = ss.AuthenticatedAt.UTC()
	if ss.AMR == nil {
		ss.AMR = []string{}
	}
	return ss
}

// CreateSession implements session.Store. The user's row is locked FOR NO
// KEY UPDATE: a session is never created for a user being deactivated, and
// concurrent creates for one user queue, so the limit holds exactly.
func (s *Store) CreateSession(ctx context.Context, n session.NewSession, limit session.Limit) (session.Session, []session.Evicted, error) {
	var (
		ss      session.Session
		evicted []session.Evicted
	)
	if n.Kind == "" {
		n.Kind = session.KindSession
	}
	if n.AMR == nil {
		n.AMR = []string{}
	}
	if n.AuthenticatedAt.IsZero() {
		n.AuthenticatedAt = n.CreatedAt
	}
	client := session.Client{IP: n.IPAddress, UserAgent: n.UserAgent}
	// Devices this replica saw the user use within the hour are not new
	// and not written again (as for activity).
	devices := n.Kind != session.KindAPIToken && !s.knows(n.UserID, client)
	// The common login: written at once (batched with the other logins
	// in flight), unless the user has a limit to apply (or is missing
	// or inactive), which the full path handles.
	if ss, ok, err := s.createAtOnce(ctx, n, limit, devices); ok || err != nil {
		if isUniqueViolation(err) {
			return session.Session{}, nil, &session.ConflictError{Reason: "session already exists"}
		}
		if err != nil {
			return session.Session{}, nil, interpret("create session", err)
		}
		return ss, nil, nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The user's lock and its devices in one round trip (a pipeline):
		// were the user missing or inactive, the devices roll back with
		// the transaction.
		var override *int
		var seen seenDevices // zero (nothing new) unless devices
		b := &pgx.Batch{}
		b.Queue(`SELECT max_sessions FROM users WHERE id = $1 AND is_active FOR NO KEY UPDATE`, n.UserID).
			QueryRow(func(row pgx.Row) error { return row.Scan(&override) })
		if devices {
			b.Queue(devicesSQL, deviceArgs(n.UserID, client, n.CreatedAt)...).
				QueryRow(func(row pgx.Row) error { return row.Scan(&seen.known, &seen.fresh) })
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if max := limit.For(override); max > 0 && n.Kind == session.KindSession {
			var err error
			if evicted, err = makeRoom(ctx, tx, n.UserID, n.CreatedAt, max, limit.Policy); err != nil {
				return err
			}
		}
		// The insert (flagged if the device is new) and its audit records
		// in one round trip; the records are made from what is inserted.
		nd := seen.newDevice(n.UserID, n.ID, client)
		b = &pgx.Batch{}
		b.Queue(`INSERT INTO sessions `+insertCols+`
			VALUES ($1, $2, $3, $4, $5, $4, $6, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
			RETURNING `+sessionCols, append(insertArgs(n), nd != nil)...).
			QueryRow(func(row pgx.Row) (err error) { ss, err = scanSession(row); return err })
		queueAudit(ctx, b, createdEntry(n))
		if nd != nil {
			queueNewDeviceAudit(ctx, b, *nd)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.GetUser(ctx, n.UserID); err != nil {
			return session.Session{}, nil, err
		}
		return session.Session{}, nil, &session.ConflictError{Reason: fmt.Sprintf("user %s is inactive", n.UserID)}
	}
	if errors.Is(err, session.ErrSessionLimit) {
		return session.Session{}, nil, err
	}
	if isUniqueViolation(err) {
		return session.Session{}, nil, &session.ConflictError{Reason: "session already exists"}
	}
	if err != nil {
		return session.Session{}, nil, interpret("create session", err)
	}
	if !ss.IsAPIToken() {
		s.remember(ss.UserID, session.Client{IP: ss.IPAddress, UserAgent: ss.UserAgent})
	}
	return ss, evicted, nil
}

// insertCols are the columns a new session's insert writes, from
// insertArgs ($1–$16; last_activity_at and last_ip_address repeat $4, $6)
// and new_device (a login from a new device is flagged as it is inserted).
const insertCols = `(token_hash, public_id, user_id, created_at, expires_at, last_activity_at, ip_address, last_ip_address,
	user_agent, remember_me, authenticated_at, amr, kind, name, token_roles, oidc_iss, oidc_sub, oidc_sid, new_device)`

func insertArgs(n session.NewSession) []any {
	iss, sub, sid := oidcArgs(n.OIDC)
	return []any{n.Hash[:], n.ID, n.UserID, n.CreatedAt, n.ExpiresAt, n.IPAddress, n.UserAgent, n.RememberMe,
		n.AuthenticatedAt, n.AMR, n.Kind, n.Name, n.TokenRoles, iss, sub, sid}
}

// oidcArgs are the oidc_iss, oidc_sub and oidc_sid of a session linked
// by o (nil: NULL).
func oidcArgs(o *session.OIDCRef) (iss, sub, sid *string) {
	if o == nil {
		return nil, nil, nil
	}
	iss, sub = &o.Issuer, &o.Subject
	if o.SessionID != "" {
		sid = &o.SessionID
	}
	return iss, sub, sid
}

// createdEntry is the audit record of creating n.
func createdEntry(n session.NewSession) session.AuditEntry {
	made := session.Session{ID: n.ID, UserID: n.UserID, ExpiresAt: n.ExpiresAt, RememberMe: n.RememberMe, TokenName: n.Name}
	if n.Kind == session.KindAPIToken {
		return session.APITokenCreatedEntry(made)
	}
	return session.SessionCreatedEntry(made)
}

// createAtOnce writes n as createOne does, in a batch with the other
// logins in flight (logins.go), recording its devices when devices is set;
// an API token is written alone.
func (s *Store) createAtOnce(ctx context.Context, n session.NewSession, limit session.Limit, devices bool) (session.Session, bool, error) {
	if n.Kind != session.KindSession {
		return s.createOne(ctx, n, limit, false)
	}
	return s.createBatched(ctx, n, limit, devices)
}

// createOne inserts n and its audit record in one statement (one round
// trip, its own transaction) when there is no session limit to apply: the
// user's row is locked FOR NO KEY UPDATE only if the user is active and
// without a limit for this kind of session. ok false (and no error) means
// nothing was written: the user is missing, inactive, or has a limit.
//
// With devices (a login from a device this replica does not know yet),
// the same statement also records the client's address and user agent
// among the user's devices, flags the session if the device is new
// (session.IsNewDevice) and writes its session.new_device record after
// the creation record. It follows a statement that locks the user, in
// one pipeline and so one implicit transaction: the statement's snapshot
// is taken once the lock is held, so it counts every device a concurrent
// login of the user committed, as the full path's devices statement does
// after its lock.
func (s *Store) createOne(ctx context.Context, n session.NewSession, limit session.Limit, devices bool) (session.Session, bool, error) {
	args := append(insertArgs(n), limit.Default)
	args = append(args, auditArgs(ctx, createdEntry(n))...)
	var ss session.Session
	var err error
	if !devices {
		ss, err = scanSession(s.pool.QueryRow(ctx, createOneSQL, args...))
	} else {
		client := session.Client{IP: n.IPAddress, UserAgent: n.UserAgent}
		d := deviceArgs(n.UserID, client, n.CreatedAt)
		nd := auditValuesOf(systemFor(ctx, client), session.NewDeviceEntry(n.UserID, n.ID, nil))
		args = append(args, d[1], d[2], nd.event, nd.clientIP, nd.userAgent, nd.actor)
		b := &pgx.Batch{}
		b.Queue(`SELECT FROM users WHERE id = $1 `+batchUsers, n.UserID, limit.Default)
		b.Queue(createOneWithDevicesSQL, args...).
			QueryRow(func(row pgx.Row) (err error) { ss, err = scanSession(row); return err })
		err = s.pool.SendBatch(ctx, b).Close()
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Session{}, false, nil
	}
	if err != nil {
		return session.Session{}, false, err
	}
	if !ss.IsAPIToken() {
		s.remember(ss.UserID, session.Client{IP: ss.IPAddress, UserAgent: ss.UserAgent})
	}
	return ss, true, nil
}

// createOneSQL is createOne's statement: insertArgs ($1–$16), the default
// session limit ($17) and the creation record's auditArgs ($18–$25).
var createOneSQL = `
		WITH u AS (` + createOneUser + `),
		ins AS (` + createOneInsert("false") + `),
		a AS (
			INSERT INTO audit_pending (event, user_id, session_id, client_ip, user_agent, actor, details, events_of)
			SELECT $18::text, $19::text, $20::uuid, $21::text, $22::text, $23::text, $24::text, $25::uuid FROM ins)
		SELECT ` + sessionCols + ` FROM ins`

// createOneWithDevicesSQL is createOneSQL recording the devices as
// devicesSQL does, if the user is locked: $26 and $27 are deviceArgs'
// kinds and values, $28–$31 the event, client address, user agent and
// actor of the new-device record, whose details ({"new": the fresh
// kinds}) are made here, as session.NewDeviceEntry makes them. nd applies
// session.IsNewDevice. Both records go in one INSERT, in order, so the
// creation record comes first.
var createOneWithDevicesSQL = `
		WITH u AS (` + createOneUser + `),
		` + deviceCTEs("$3", "$26", "$27", "$4", "WHERE EXISTS (SELECT FROM u)") + `,
		nd AS (SELECT (SELECT n FROM known) > 0 AND cardinality(kinds) > 0 AS new, kinds FROM fresh),
		ins AS (` + createOneInsert("(SELECT new FROM nd)") + `),
		a AS (
			INSERT INTO audit_pending (event, user_id, session_id, client_ip, user_agent, actor, details, events_of)
			SELECT r.event, r.user_id, r.session_id, r.client_ip, r.user_agent, r.actor, r.details, r.events_of
			FROM ins, nd, LATERAL (VALUES
				(1, $18::text, $19::text, $20::uuid, $21::text, $22::text, $23::text, $24::text, $25::uuid),
				(2, $28::text, ins.user_id, ins.public_id, $29::text, $30::text, $31::text,
					'{"new":' || array_to_json(nd.kinds)::text || '}', ins.public_id)
			) AS r (ord, event, user_id, session_id, client_ip, user_agent, actor, details, events_of)
			WHERE r.ord = 1 OR nd.new
			ORDER BY r.ord)
		SELECT ` + sessionCols + ` FROM ins`

// createOneUser locks createOne's user ($3) if active and without a limit
// ($17 the default) for this kind of session ($11).
const createOneUser = `
			SELECT id FROM users WHERE id = $3 AND is_active
			AND NOT ($11::text = 'session' AND coalesce(max_sessions, $17::int) > 0)
			FOR NO KEY UPDATE`

// createOneInsert is createOne's insert of the session, new_device set to
// the expression nd.
func createOneInsert(nd string) string {
	return `
			INSERT INTO sessions ` + insertCols + `
			SELECT $1::bytea, $2::uuid, $3::text, $4::timestamptz, $5::timestamptz, $4::timestamptz, $6::text, $6::text,
				$7::text, $8::bool, $9::timestamptz, $10::text[], $11::text, $12::text, $13::text[], $14::text, $15::text, $16::text, ` + nd + `
			FROM u
			RETURNING ` + sessionCols
}

// makeRoom applies the session limit before a new session of userID is
// inserted at now (in tx, with the user's row locked): with max unexpired
// sessions already, the policy evicts enough of them (audited) or refuses.
func makeRoom(ctx context.Context, tx pgx.Tx, userID string, now time.Time, max int, policy string) ([]session.Evicted, error) {
	var active int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE user_id = $1 AND kind = 'session' AND expires_at > $2`, userID, now).Scan(&active); err != nil {
		return nil, err
	}
	if active < max {
		return nil, nil
	}
	order := "created_at, public_id" // evict_oldest
	switch policy {
	case session.PolicyRefuse:
		return nil, session.ErrSessionLimit
	case session.PolicyEvictIdlest:
		order = "last_activity_at, created_at, public_id"
	}
	if err := withReason(ctx, tx, webhook.ReasonEvicted); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `
		DELETE FROM sessions WHERE token_hash IN (
			SELECT token_hash FROM sessions WHERE user_id = $1 AND kind = 'session' AND expires_at > $2
			ORDER BY `+order+` LIMIT $3)
		RETURNING token_hash, public_id`, userID, now, active-max+1)
	if err != nil {
		return nil, err
	}
	evicted, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (session.Evicted, error) {
		var e session.Evicted
		var b []byte
		var id uuid.UUID
		if err := r.Scan(&b, &id); err != nil {
			return e, err
		}
		e.ID = id.String()
		e.Hash, err = toHash(b)
		return e, err
	})
	if err != nil {
		return nil, err
	}
	for _, e := range evicted {
		if err := appendAudit(ctx, tx, session.SessionEvictedEntry(userID, e.ID, policy)); err != nil {
			return nil, err
		}
	}
	return evicted, nil
}

// restoreQuery is the validation query: a session and its user by token
// hash ($1). An API token's roles are its own, narrowed to those the user
// still holds.
var restoreQuery = `
		SELECT ` + sessionColsS + `,
		       u.username, u.email, u.is_active,
		       CASE WHEN s.token_roles IS NULL THEN u.roles
		            ELSE ARRAY(SELECT r FROM unnest(s.token_roles) r WHERE r = ANY (u.roles)) END
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1`

// RestoreQuery returns the validation query Restore sends, for the
// benchmark's baseline, which runs it bare.
func RestoreQuery() string { return restoreQuery }

// restoreRow is what Restore scans a row into, with its destinations
// built once: rows are pooled, so a validation allocates only the values
// it reads (scanning into a fresh session and a fresh destination list
// cost three allocations, about 0.9 KB, per request).
type restoreRow struct {
	sessionRow
	user session.User
	dest []any
}

var restoreRows = sync.Pool{New: func() any {
	rr := &restoreRow{}
	rr.dest = append(rr.sessionRow.dest(), &rr.user.Username, &rr.user.Email, &rr.user.IsActive, &rr.user.Roles)
	return rr
}}

// Restore implements session.Store with one query joining the user.
func (s *Store) Restore(ctx context.Context, h session.Hash) (session.Restored, error) {
	rr := restoreRows.Get().(*restoreRow)
	defer func() {
		// Drop what was read: a pooled row keeps no request's values
		// alive, and the next scan starts from zero.
		rr.sessionRow, rr.user = sessionRow{}, session.User{}
		restoreRows.Put(rr)
	}()
	err := s.pool.QueryRow(ctx, restoreQuery, h[:]).Scan(rr.dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Restored{}, session.ErrUnauthenticated
	}
	if err != nil {
		return session.Restored{}, interpret("restore", err)
	}
	r := session.Restored{Session: rr.session(), User: rr.user}
	r.User.ID = r.Session.UserID
	if r.User.Roles == nil {
		r.User.Roles = []string{}
	}
	return r, nil
}

// DeleteSession deletes one session (not an API token) by hash, as a
// batch of one logout by the actor of ctx.
func (s *Store) DeleteSession(ctx context.Context, h session.Hash) (session.Deleted, error) {
	out, err := s.DeleteSessions(ctx, []session.Logout{{Hash: h, Actor: session.ActorFrom(ctx)}})
	if err != nil {
		return session.Deleted{}, err
	}
	return session.Deleted{Found: out.Found[0], Outbox: out.Outbox}, nil
}

// deadlockRetries bounds the retries of a batch of logouts that Postgres
// aborted to break a deadlock (its rows are locked in index order, as any
// other batch's, but a revoke of a user's sessions locks them in its own).
const deadlockRetries = 3

// DeleteSessions implements session.Store: the logouts of a batch in one
// round trip and one implicit transaction (a pipeline ends with one Sync):
// the deletes, their audit records (each made from its deleted row and
// naming its own actor) and their webhook reason commit together, and the
// outbox trigger writes one entry naming every deleted session. With an
// origin set, that entry is this replica's to propagate, and its id comes
// back in the same round trip.
func (s *Store) DeleteSessions(ctx context.Context, ls []session.Logout) (session.LoggedOut, error) {
	out := session.LoggedOut{Found: make([]bool, len(ls))}
	if len(ls) == 0 {
		return out, nil
	}
	e := auditArgs(ctx, session.LogoutEntry("", ""))
	type logoutRow struct {
		Hash      string `json:"h"` // hex
		IP        string `json:"ip"`
		UserAgent string `json:"ua"`
		Actor     string `json:"act"`
	}
	rows := make([]logoutRow, len(ls))
	for i, l := range ls {
		rows[i] = logoutRow{hex.EncodeToString(l.Hash[:]), l.Actor.ClientIP, l.Actor.UserAgent, l.Actor.Kind}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return session.LoggedOut{}, err
	}
	doc := string(b) // not bytes: see createMany
	for range deadlockRetries + 1 {
		var deleted map[session.Hash]bool
		deleted, out.Outbox, err = s.deleteSessions(ctx, doc, e)
		if err == nil {
			for i, l := range ls {
				out.Found[i] = deleted[l.Hash]
			}
			return out, nil
		}
		if !isDeadlock(err) {
			break
		}
	}
	return session.LoggedOut{}, interpret("delete sessions", err)
}

// deleteSessions runs a batch of logouts, doc: a JSON array of their
// hashes and actors (one parameter rather than an array per column, so
// that Postgres keeps one generic plan for the statement instead of
// planning it again for each batch's length, as for logins).
func (s *Store) deleteSessions(ctx context.Context, doc string, e []any) (map[session.Hash]bool, int64, error) {
	deleted := map[session.Hash]bool{}
	var outbox int64
	b := &pgx.Batch{}
	queueReason(b, webhook.ReasonLogout)
	if s.origin != "" {
		b.Queue(`SELECT set_config('sessiongw.origin', $1, true)`, s.origin)
	}
	// = ANY scans the primary key in key order (the index sorts the
	// array), so concurrent batches lock their rows in one order. Several
	// logouts of one session delete it once and write one record
	// (DISTINCT ON).
	b.Queue(`
		WITH x AS (
			SELECT DISTINCT ON (h) decode(h, 'hex') AS h, ip, ua, act
			FROM jsonb_to_recordset($1::jsonb) AS t(h text, ip text, ua text, act text)),
		d AS (
			DELETE FROM sessions WHERE token_hash = ANY(ARRAY(SELECT h FROM x)) AND kind = 'session'
			RETURNING token_hash, user_id, public_id),
		a AS (
			INSERT INTO audit_pending (event, user_id, session_id, client_ip, user_agent, actor, details, events_of)
			SELECT $2::text, d.user_id, d.public_id, x.ip, x.ua, x.act, $3::text, d.public_id FROM d JOIN x ON x.h = d.token_hash)
		SELECT token_hash FROM d`, doc, e[0], e[6]).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var raw []byte
				if err := rows.Scan(&raw); err != nil {
					return err
				}
				h, err := toHash(raw)
				if err != nil {
					return err
				}
				deleted[h] = true
			}
			return rows.Err()
		})
	if s.origin != "" {
		// The trigger left the entry's id here (after the statement).
		b.Queue(`SELECT coalesce(nullif(current_setting('sessiongw.outbox_id', true), ''), '0')::bigint`).
			QueryRow(func(row pgx.Row) error { return row.Scan(&outbox) })
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, 0, err
	}
	return deleted, outbox, nil
}

// DeleteSessionByID implements session.Store (revoke one session).
func (s *Store) DeleteSessionByID(ctx context.Context, id string, userID string) (session.Hash, error) {
	var b []byte
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := withReason(ctx, tx, revokeReason(ctx)); err != nil {
			return err
		}
		var owner string
		if err := tx.QueryRow(ctx, `
			DELETE FROM sessions WHERE public_id = $1 AND kind = 'session' AND ($2 = '' OR user_id = $2)
			RETURNING token_hash, user_id`, id, userID).Scan(&b, &owner); err != nil {
			return err
		}
		return appendAudit(ctx, tx, session.RevokedEntry(owner, id, session.ActorFrom(ctx).Kind))
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Hash{}, session.ErrSessionNotFound
	}
	if err != nil {
		return session.Hash{}, interpret("delete session by id", err)
	}
	return toHash(b)
}

// DeleteUserSessions implements session.Store.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string, except *session.Hash) ([]session.Hash, error) {
	var keep []byte
	if except != nil {
		keep = except[:]
	}
	var hashes []session.Hash
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR SHARE`, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return session.ErrUserNotFound
		}
		reason := webhook.ReasonAdmin
		if session.ActorFrom(ctx).Kind != session.ActorAdmin {
			reason = webhook.ReasonRevokeOthers
		}
		if err := withReason(ctx, tx, reason); err != nil {
			return err
		}
		hashes, err = collectHashes(tx.Query(ctx, `
			DELETE FROM sessions WHERE user_id = $1 AND kind = 'session' AND ($2::bytea IS NULL OR token_hash <> $2)
			RETURNING token_hash`, userID, keep))
		if err != nil {
			return err
		}
		var keptID string
		if except != nil {
			var kept uuid.UUID
			if err := tx.QueryRow(ctx, `SELECT public_id FROM sessions WHERE token_hash = $1`, keep).Scan(&kept); err == nil {
				keptID = kept.String()
			}
		}
		return appendAudit(ctx, tx, session.RevokedUserSessionsEntry(userID, except != nil, keptID, len(hashes)))
	})
	if errors.Is(err, session.ErrUserNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, interpret("delete user sessions", err)
	}
	return hashes, nil
}

// ListSessions implements session.Store.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]session.Session, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+sessionCols+` FROM sessions
		WHERE user_id = $1 AND kind = 'session' AND expires_at > $2
		ORDER BY created_at DESC, public_id`, userID, now)
	if err != nil {
		return nil, interpret("list sessions", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (session.Session, error) { return scanSession(r) })
	if err != nil {
		return nil, interpret("list sessions", err)
	}
	if list == nil {
		list = []session.Session{}
	}
	return list, nil
}

// DeleteExpired implements session.Store; a batch that deleted anything
// is one sessions.expired_cleanup record.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]session.Hash, error) {
	var hashes []session.Hash
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := withReason(ctx, tx, webhook.ReasonExpired); err != nil {
			return err
		}
		var err error
		hashes, err = collectHashes(tx.Query(ctx, `
			DELETE FROM sessions WHERE token_hash IN (
				SELECT token_hash FROM sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
			RETURNING token_hash`, now, limit))
		if err != nil {
			return err
		}
		if e, ok := session.ExpiredEntry(len(hashes)); ok {
			return appendAudit(ctx, tx, e)
		}
		return nil
	})
	if err != nil {
		return nil, interpret("delete expired", err)
	}
	return hashes, nil
}
