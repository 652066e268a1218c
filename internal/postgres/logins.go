package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Group commit of logins. The common login (a user with no session limit)
// is one statement of its own (createOne). Concurrent
// ones on a replica are gathered instead into one statement that inserts
// all their sessions and audit records: one round trip, one commit, one
// run of the insert triggers for the batch. Each login still returns only
// after its own session is committed, with the same checks per row as
// alone: its user is locked (in id order, so batches cannot deadlock on
// users), active and without a limit, or nothing of that login is written
// and it takes the full path, as alone.
//
// A batch holding logins from devices this replica does not know yet (the
// first login of a user on a replica within the hour) is one transaction
// instead: the users locked first, then each such login's devices recorded
// in batch order (a user's second login in the batch sees the devices of
// its first), then the batch statement, which flags the sessions of new
// devices as it inserts them, with their new-device audit records after
// it, as the full path writes them for one login. A lone login from an
// unknown device is one round trip too: createOne records its devices in
// its statement.
//
// One batch is written at a time per replica; the logins that arrive
// meanwhile form the next one (package groupcommit), so a lone login
// waits for nobody. A batch
// that Postgres rejects as a whole (one row's unique violation, a
// deadlock with another transaction) writes nothing, and its logins take
// the full path one by one, each meeting its own error alone; so does a
// lone login that a deadlock rolled back.

// maxLoginBatch bounds the sessions of one batch statement.
const maxLoginBatch = 100

// loginBatchTimeout bounds a batch's statement, which runs for all its
// callers and so under none of their cancellations (the default store
// timeout).
const loginBatchTimeout = 5 * time.Second

type loginCall struct {
	ctx   context.Context // the request's: a batch runs under its first call's (tracing), never cancelled by it
	n     session.NewSession
	limit int // the default session limit its batch applies
	// devices: its client's address and user agent are to be recorded
	// among its user's devices (this replica does not know them yet).
	devices bool
	// newDevice: its devices were recorded and found new (fresh names
	// what was new); its session is flagged and audited so.
	newDevice *newDevice
	ss        session.Session
	ok        bool  // the session was written (false: the caller takes the full path)
	err       error // the batch failed (Postgres unreachable, the batch timed out)
	done      chan struct{}
}

// createBatched is createOne with whatever other logins are pending.
func (s *Store) createBatched(ctx context.Context, n session.NewSession, limit session.Limit, devices bool) (session.Session, bool, error) {
	c := &loginCall{ctx: ctx, n: n, limit: limit.Default, devices: devices, done: make(chan struct{})}
	s.logins.Add(c)
	select {
	case <-c.done:
	case <-ctx.Done():
		// The batch goes on; this caller learns what a statement cut short
		// tells it (unavailable: 503).
		return session.Session{}, false, ctx.Err()
	}
	return c.ss, c.ok, c.err
}

// writeLoginBatch writes a batch of logins. A replica passes one default
// limit; were a store given several, each run of logins under one limit
// is written by a statement of its own.
func (s *Store) writeLoginBatch(batch []*loginCall) {
	if s.beforeLoginBatch != nil {
		s.beforeLoginBatch(len(batch))
	}
	for len(batch) > 0 {
		n := 1
		for n < len(batch) && batch[n].limit == batch[0].limit {
			n++
		}
		s.writeLogins(batch[:n])
		batch = batch[n:]
	}
}

// writeLogins writes logins under one default limit and lets each caller
// know.
func (s *Store) writeLogins(batch []*loginCall) {
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), loginBatchTimeout)
	defer cancel()
	if len(batch) == 1 {
		c := batch[0]
		c.ss, c.ok, c.err = s.createOne(ctx, c.n, session.Limit{Default: c.limit}, c.devices)
		if isDeadlock(c.err) {
			// Rolled back (a login recording its devices can meet an
			// activity batch recording the same user's): as a batch,
			// it takes the full path.
			c.err = nil
		}
		return
	}
	var made map[string]session.Session
	var err error
	if slices.ContainsFunc(batch, func(c *loginCall) bool { return c.devices }) {
		made, err = s.createManyWithDevices(ctx, batch)
	} else {
		made, err = createMany(ctx, s.pool, batch)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (isDeadlock(err) || !unavailable(err)) {
		// Rejected as a whole, nothing written: each login takes the
		// full path, alone, and meets its own error there.
		return
	}
	for _, c := range batch {
		c.ss, c.ok = made[c.n.ID]
		c.err = err
		if c.ok {
			s.remember(c.ss.UserID, session.Client{IP: c.ss.IPAddress, UserAgent: c.ss.UserAgent})
		}
	}
}

// createManyWithDevices is createMany for a batch some of whose logins
// record their devices, in one transaction: the users are locked first (in
// id order, as the batch statement locks them), so that a login the batch
// statement would leave out (its user inactive, missing or limited) writes
// no device either and meets the full path as if alone.
func (s *Store) createManyWithDevices(ctx context.Context, batch []*loginCall) (map[string]session.Session, error) {
	var made map[string]session.Session
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ids := make([]string, len(batch))
		for i, c := range batch {
			ids[i] = c.n.UserID
		}
		rows, err := tx.Query(ctx, `SELECT id FROM users WHERE id = ANY($1::text[]) `+batchUsers, ids, batch[0].limit)
		if err != nil {
			return err
		}
		users, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		var in []*loginCall
		for _, c := range batch {
			if slices.Contains(users, c.n.UserID) {
				in = append(in, c)
			}
		}
		if len(in) == 0 {
			made = map[string]session.Session{}
			return nil
		}
		// The devices, in batch order, each as the full path records them.
		seen := make([]seenDevices, len(in))
		b := &pgx.Batch{}
		for i, c := range in {
			if c.devices {
				b.Queue(devicesSQL, deviceArgs(c.n.UserID, session.Client{IP: c.n.IPAddress, UserAgent: c.n.UserAgent}, c.n.CreatedAt)...).
					QueryRow(func(row pgx.Row) error { return row.Scan(&seen[i].known, &seen[i].fresh) })
			}
		}
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		for i, c := range in {
			// seen[i] is zero (nothing new) for a login not recording devices.
			c.newDevice = seen[i].newDevice(c.n.UserID, c.n.ID, session.Client{IP: c.n.IPAddress, UserAgent: c.n.UserAgent})
		}
		made, err = createMany(ctx, tx, in)
		return err
	})
	if err != nil {
		return nil, err // rolled back: nothing of the batch was written
	}
	return made, nil
}

// batchUsers ends a query of users: those a batch may write a login of
// (active, without a session limit, $2 the default), locked in id order so
// that batches cannot deadlock on users.
const batchUsers = `AND is_active AND NOT coalesce(max_sessions, $2::int) > 0 ORDER BY id FOR NO KEY UPDATE`

// loginRow is one login of a batch, as the batch statement reads it.
type loginRow struct {
	Hash      string          `json:"h"` // hex
	ID        string          `json:"id"`
	UserID    string          `json:"u"`
	Created   string          `json:"c"`
	Expires   string          `json:"e"`
	IP        string          `json:"ip"`
	UserAgent string          `json:"ua"`
	Remember  bool            `json:"rm"`
	AuthAt    string          `json:"at"`
	AMR       []string        `json:"amr"`
	Name      string          `json:"name"`
	Iss       *string         `json:"iss"`
	Sub       *string         `json:"sub"`
	Sid       *string         `json:"sid"`
	NewDevice bool            `json:"nd"`
	Audit     auditValuesJSON `json:"a"`
}

type auditValuesJSON struct {
	Event     string  `json:"ev"`
	UserID    *string `json:"u"`
	SessionID *string `json:"s"`
	ClientIP  string  `json:"ip"`
	UserAgent string  `json:"ua"`
	Actor     string  `json:"act"`
	Details   string  `json:"det"`
	EventsOf  *string `json:"eo"`
}

// pgTime is t as Postgres reads it back exactly (microseconds; pgx's
// binary encoding truncates the same way).
func pgTime(t time.Time) string { return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano) }

// createMany inserts the sessions of batch whose users are active and
// without a limit, with their audit records, in one statement, and the
// new-device records of those flagged after it (the same round trip); it
// returns the sessions written by public id.
//
// The batch goes as one JSON parameter rather than an array per column:
// Postgres estimates a JSON record set's rows alike whether or not it sees
// the value, so after a few executions it keeps one generic plan for the
// statement, where arrays (whose length a custom plan sees) make it plan
// the statement again on every execution (about 0.25 ms of its CPU).
func createMany(ctx context.Context, q batchSender, batch []*loginCall) (map[string]session.Session, error) {
	rows := make([]loginRow, len(batch))
	for i, c := range batch {
		n := c.n
		a := auditValuesOf(c.ctx, createdEntry(n))
		iss, sub, sid := oidcArgs(n.OIDC)
		rows[i] = loginRow{
			Hash: hex.EncodeToString(n.Hash[:]), ID: n.ID, UserID: n.UserID,
			Created: pgTime(n.CreatedAt), Expires: pgTime(n.ExpiresAt), AuthAt: pgTime(n.AuthenticatedAt),
			IP: n.IPAddress, UserAgent: n.UserAgent, Remember: n.RememberMe, AMR: nonNilStrings(n.AMR), Name: n.Name,
			Iss: iss, Sub: sub, Sid: sid, NewDevice: c.newDevice != nil,
			Audit: auditValuesJSON{Event: a.event, UserID: a.userID, SessionID: a.sessionID, ClientIP: a.clientIP,
				UserAgent: a.userAgent, Actor: a.actor, Details: a.details, EventsOf: a.eventsOf},
		}
	}
	// A string, not bytes: without prepared statements (PgBouncer's
	// transaction pooling) pgx types a parameter by its Go type, and
	// bytes would be sent as bytea, which does not cast to jsonb.
	js, err := json.Marshal(rows)
	if err != nil {
		return nil, err
	}
	doc := string(js)
	made := make(map[string]session.Session, len(batch))
	b := &pgx.Batch{}
	b.Queue(`
		WITH i AS (
			SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(h text, id uuid, u text, c timestamptz, e timestamptz,
				ip text, ua text, rm bool, at timestamptz, amr jsonb, name text, iss text, sub text, sid text, nd bool, a jsonb)),
		u AS (SELECT id FROM users WHERE id IN (SELECT u FROM i) `+batchUsers+`),
		ins AS (
			INSERT INTO sessions `+insertCols+`
			SELECT decode(h, 'hex'), id, u, c, e, c, ip, ip, ua, rm, at, ARRAY(SELECT jsonb_array_elements_text(amr)), 'session', name,
				NULL, iss, sub, sid, nd
			FROM i WHERE u IN (SELECT id FROM u)
			RETURNING `+sessionCols+`),
		a AS (
			INSERT INTO audit_pending (event, user_id, session_id, client_ip, user_agent, actor, details, events_of)
			SELECT r.ev, r.u, r.s, r.ip, r.ua, r.act, r.det, r.eo
			FROM i JOIN ins ON ins.public_id = i.id,
				jsonb_to_record(i.a) AS r(ev text, u text, s uuid, ip text, ua text, act text, det text, eo uuid))
		SELECT `+sessionCols+` FROM ins`, doc, batch[0].limit).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				ss, err := scanSession(rows)
				if err != nil {
					return err
				}
				made[ss.ID] = ss
			}
			return rows.Err()
		})
	for _, c := range batch {
		if c.newDevice != nil {
			queueNewDeviceAudit(c.ctx, b, *c.newDevice)
		}
	}
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return made, nil
}

// batchSender is a pool or a transaction.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

func nonNilStrings(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
