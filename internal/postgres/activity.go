package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/maypok86/otter/v2"

	"github.com/sessiongw/sessiongw/internal/session"
)

// rollingExpiry is the SQL of session.Rolling.Extend for activity at $at of
// the row s (parameters $on, $ttl, $remember, $absolute in microseconds).
// TestRollingSQLMatchesDomain holds the two in step.
func rollingExpiry(at, on, ttl, remember, absolute string) string {
	return `CASE WHEN ` + on + ` AND s.expires_at > ` + at + ` THEN GREATEST(s.expires_at, LEAST(
		` + at + ` + (CASE WHEN s.remember_me THEN ` + remember + ` ELSE ` + ttl + ` END) * interval '1 microsecond',
		s.created_at + ` + absolute + ` * interval '1 microsecond')) ELSE s.expires_at END`
}

// RecordActivity implements session.Store.
func (s *Store) RecordActivity(ctx context.Context, h session.Hash, at time.Time, ip, userAgent string) error {
	r := s.rolling
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var userID string
		var id uuid.UUID
		if err := tx.QueryRow(ctx, `
			UPDATE sessions s SET last_activity_at = GREATEST(s.last_activity_at, $2), ip_address = $3, user_agent = $4,
				last_ip_address = CASE WHEN $3 <> '' THEN $3 ELSE s.last_ip_address END,
				expires_at = `+rollingExpiry("$2::timestamptz", "$5::bool", "$6::bigint", "$7::bigint", "$8::bigint")+`
			WHERE s.token_hash = $1
			RETURNING s.user_id, s.public_id`, h[:], at, ip, userAgent,
			r.On, r.TTL.Microseconds(), r.RememberTTL.Microseconds(), r.Absolute.Microseconds()).Scan(&userID, &id); err != nil {
			return err
		}
		_, err := recordDevices(ctx, tx, userID, id.String(), session.Client{IP: ip, UserAgent: userAgent}, at)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return session.ErrUnauthenticated
	}
	return interpret("record activity", err)
}

// touchChunk bounds one activity statement: each is its own short
// transaction, so no batch holds row locks (or the trigger's work) for long
// whatever the batch's size.
const touchChunk = 1000

// TouchSessions writes a batch of coalesced activity in statements of at
// most touchChunk sessions, each locking its rows in public id order, so
// replicas writing overlapping batches queue instead of deadlocking.
// Touches from another address or user agent than the session's own then go
// through new-device detection, each in a short transaction of its own,
// unless this replica saw the user use that device within the hour.
func (s *Store) TouchSessions(ctx context.Context, ts []session.Touch) error {
	if len(ts) == 0 {
		return nil
	}
	sorted := slices.Clone(ts)
	slices.SortFunc(sorted, func(a, b session.Touch) int { return strings.Compare(a.SessionID, b.SessionID) })
	for len(sorted) > 0 {
		n := min(touchChunk, len(sorted))
		if err := s.touchChunk(ctx, sorted[:n]); err != nil {
			return err
		}
		sorted = sorted[n:]
	}
	return nil
}

func (s *Store) touchChunk(ctx context.Context, ts []session.Touch) error {
	ids := make([]string, len(ts))
	ats := make([]time.Time, len(ts))
	ips := make([]string, len(ts))
	uas := make([]string, len(ts))
	for i, t := range ts {
		ids[i], ats[i], ips[i], uas[i] = t.SessionID, t.At, t.Client.IP, t.Client.UserAgent
	}
	r := s.rolling
	// The rows are locked in public id order first (a lock taken in the
	// same order by every writer cannot deadlock), then updated.
	rows, err := s.pool.Query(ctx, `
		WITH v AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $7::text[], $8::text[]) AS v(id, at, ip, ua)),
		locked AS (
			SELECT s.public_id FROM sessions s JOIN v ON s.public_id = v.id
			WHERE s.last_activity_at < v.at ORDER BY s.public_id FOR NO KEY UPDATE OF s)
		UPDATE sessions s SET last_activity_at = v.at,
			last_ip_address = CASE WHEN v.ip <> '' THEN v.ip ELSE s.last_ip_address END,
			expires_at = `+rollingExpiry("v.at", "($3::bool AND s.kind = 'session')", "$4::bigint", "$5::bigint", "$6::bigint")+`
		FROM v
		WHERE s.public_id = v.id AND s.public_id IN (SELECT public_id FROM locked) AND s.last_activity_at < v.at
		RETURNING s.public_id, s.user_id, v.at, v.ip, v.ua,
			s.kind = 'session' AND ((v.ip <> '' AND v.ip <> s.ip_address) OR (v.ua <> '' AND v.ua <> s.user_agent))`, ids, ats,
		r.On, r.TTL.Microseconds(), r.RememberTTL.Microseconds(), r.Absolute.Microseconds(), ips, uas)
	if err != nil {
		return interpret("touch sessions", err)
	}
	type other struct {
		id     uuid.UUID
		userID string
		at     time.Time
		client session.Client
	}
	var others []other
	for rows.Next() {
		var o other
		var differs bool
		if err := rows.Scan(&o.id, &o.userID, &o.at, &o.client.IP, &o.client.UserAgent, &differs); err != nil {
			rows.Close()
			return interpret("touch sessions", err)
		}
		if differs && !s.knows(o.userID, o.client) {
			others = append(others, o)
		}
	}
	if err := rows.Err(); err != nil {
		return interpret("touch sessions", err)
	}
	// Each detection is a transaction of its own, so no transaction holds
	// a user's device rows for a whole batch.
	for _, o := range others {
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			_, err := recordDevices(ctx, tx, o.userID, o.id.String(), o.client, o.at)
			return err
		}); err != nil {
			return interpret("new-device detection", err)
		}
		s.remember(o.userID, o.client)
	}
	return nil
}

// deviceKey is one address or user agent of one user.
type deviceKey struct {
	userID      string
	kind, value string
}

func newKnownDevices() *otter.Cache[deviceKey, struct{}] {
	return otter.Must(&otter.Options[deviceKey, struct{}]{
		MaximumSize:      100_000,
		ExpiryCalculator: otter.ExpiryWriting[deviceKey, struct{}](time.Hour),
	})
}

// knows reports whether this replica saw the user use both the address
// and the user agent of c within the hour.
func (s *Store) knows(userID string, c session.Client) bool {
	for _, k := range deviceKeys(userID, c) {
		if _, ok := s.known.GetIfPresent(k); !ok {
			return false
		}
	}
	return true
}

func (s *Store) remember(userID string, c session.Client) {
	for _, k := range deviceKeys(userID, c) {
		s.known.Set(k, struct{}{})
	}
}

func deviceKeys(userID string, c session.Client) []deviceKey {
	var ks []deviceKey
	if c.IP != "" {
		ks = append(ks, deviceKey{userID, session.DeviceAddress, c.IP})
	}
	if c.UserAgent != "" {
		ks = append(ks, deviceKey{userID, session.DeviceUserAgent, c.UserAgent})
	}
	return ks
}

// devicesSQL upserts the client's address and user agent ($2 kinds, $3
// values) among user $1's devices, seen at $4, in one statement: it returns
// how many devices the user had before and which kinds were new.
var devicesSQL = `
	WITH ` + deviceCTEs("$1", "$2", "$3", "$4", "") + `
	SELECT (SELECT n FROM known), (SELECT kinds FROM fresh)`

// deviceCTEs are the WITH queries that record a client's devices: known
// (n: how many devices the user had before), seen (the kinds upserted,
// and whether each was inserted) and fresh (kinds: those inserted, in the
// order given). user, kinds, values and at are the statement's parameters
// (deviceArgs); where, if set, is a WHERE clause that writes nothing when
// false.
func deviceCTEs(user, kinds, values, at, where string) string {
	return `known AS (SELECT count(*) AS n FROM user_devices WHERE user_id = ` + user + `),
	seen AS (
		INSERT INTO user_devices (user_id, kind, value, first_seen, last_seen)
		SELECT ` + user + `, d.kind, d.value, ` + at + `, ` + at + ` FROM unnest(` + kinds + `::text[], ` + values + `::text[]) AS d (kind, value) ` + where + `
		ON CONFLICT (user_id, kind, value) DO UPDATE SET last_seen = GREATEST(user_devices.last_seen, EXCLUDED.last_seen)
		RETURNING kind, (xmax = 0) AS inserted),
	fresh AS (SELECT coalesce(array_agg(kind ORDER BY array_position(` + kinds + `::text[], kind)), '{}') AS kinds FROM seen WHERE inserted)`
}

// deviceArgs are devicesSQL's arguments for c.
func deviceArgs(userID string, c session.Client, at time.Time) []any {
	var kinds, values []string
	for _, k := range deviceKeys(userID, c) {
		kinds, values = append(kinds, k.kind), append(values, k.value)
	}
	return []any{userID, kinds, values, at}
}

// recordDevices notes the client's address and user agent among the
// user's devices and applies session.IsNewDevice; a new device flags the
// session and is audited (in tx, the transaction of the activity).
func recordDevices(ctx context.Context, tx pgx.Tx, userID string, sessionID string, c session.Client, at time.Time) (bool, error) {
	var seen seenDevices
	if err := tx.QueryRow(ctx, devicesSQL, deviceArgs(userID, c, at)...).Scan(&seen.known, &seen.fresh); err != nil {
		return false, err
	}
	return flagNewDevice(ctx, tx, userID, sessionID, c, seen)
}

// seenDevices is what devicesSQL found.
type seenDevices struct {
	known int
	fresh []string
}

// newDevice applies session.IsNewDevice to what devicesSQL found for c:
// the session to flag, or nil when nothing is new.
func (seen seenDevices) newDevice(userID, sessionID string, c session.Client) *newDevice {
	if !session.IsNewDevice(seen.known, seen.fresh) {
		return nil
	}
	return &newDevice{userID: userID, sessionID: sessionID, client: c, fresh: seen.fresh}
}

// flagNewDevice flags the session and audits it, in tx, if what
// devicesSQL found is a new device.
func flagNewDevice(ctx context.Context, tx pgx.Tx, userID, sessionID string, c session.Client, seen seenDevices) (bool, error) {
	d := seen.newDevice(userID, sessionID, c)
	if d == nil {
		return false, nil
	}
	return true, flagNewDevices(ctx, tx, []newDevice{*d})
}

// newDevice is a session whose client is new to its user: fresh names
// what was new (session.IsNewDevice).
type newDevice struct {
	userID, sessionID string
	client            session.Client
	fresh             []string
}

// flagNewDevices flags the sessions of ds (created before this
// transaction: their caches are invalidated) and audits each, in tx (one
// round trip). A login's session is flagged in its insert instead.
func flagNewDevices(ctx context.Context, tx pgx.Tx, ds []newDevice) error {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.sessionID
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE sessions SET new_device = true WHERE public_id = ANY($1::uuid[])`, ids)
	for _, d := range ds {
		queueNewDeviceAudit(ctx, b, d)
	}
	return tx.SendBatch(ctx, b).Close()
}

// queueNewDeviceAudit queues d's session.new_device record.
func queueNewDeviceAudit(ctx context.Context, b *pgx.Batch, d newDevice) {
	queueAudit(systemFor(ctx, d.client), b, session.NewDeviceEntry(d.userID, d.sessionID, d.fresh))
}

// systemFor is ctx with the actor of a new-device record: the system,
// acting for the client c.
func systemFor(ctx context.Context, c session.Client) context.Context {
	return session.WithActor(ctx, session.Actor{Kind: session.ActorSystem, ClientIP: c.IP, UserAgent: c.UserAgent})
}

// AcknowledgeNewDevice implements session.Store.
func (s *Store) AcknowledgeNewDevice(ctx context.Context, h session.Hash) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var userID string
		var id uuid.UUID
		err := tx.QueryRow(ctx, `
			UPDATE sessions SET new_device = false WHERE token_hash = $1 AND new_device
			RETURNING user_id, public_id`, h[:]).Scan(&userID, &id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // not flagged (or gone: the caller validated it a moment ago)
		}
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, session.NewDeviceAcknowledgedEntry(userID, id.String()))
	})
	return interpret("acknowledge new device", err)
}

// PruneDevices implements session.Store.
func (s *Store) PruneDevices(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM user_devices d WHERE d.last_seen < $1 AND NOT EXISTS (
			SELECT 1 FROM sessions s WHERE s.user_id = d.user_id AND s.expires_at > $1
			AND ((d.kind = 'ip_address' AND s.ip_address = d.value) OR (d.kind = 'user_agent' AND s.user_agent = d.value)))`, before)
	if err != nil {
		return 0, interpret("prune devices", err)
	}
	return int(tag.RowsAffected()), nil
}
