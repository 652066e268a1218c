// Package postgres is the source of truth: users and sessions in PostgreSQL
// through a pgx pool, with embedded migrations.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/maypok86/otter/v2"

	"github.com/sessiongw/sessiongw/internal/session"
)

// Store implements session.Store on a pgx pool.
type Store struct {
	pool    *pgxpool.Pool
	rolling Rolling
	// known remembers, for an hour, devices this replica has seen its
	// users use, so activity from them costs no detection queries.
	known *otter.Cache[deviceKey, struct{}]
}

// deviceKey is one address or user agent of one user.
type deviceKey struct {
	userID      int64
	kind, value string
}

// Rolling is the rolling-expiry policy applied with every activity write:
// when On, expires_at moves to the session's TTL after the activity (TTL,
// or RememberTTL for remember-me sessions), never past Absolute after its
// creation, and never earlier than it was.
type Rolling struct {
	On                         bool
	TTL, RememberTTL, Absolute time.Duration
}

// SetRolling sets the rolling-expiry policy (off by default).
func (s *Store) SetRolling(r Rolling) { s.rolling = r }

// rollingExpiry is the SQL of the new expires_at for activity at $at of the
// row s (parameters $on, $ttl, $remember, $absolute in microseconds).
func rollingExpiry(at, on, ttl, remember, absolute string) string {
	return `CASE WHEN ` + on + ` AND s.expires_at > ` + at + ` THEN GREATEST(s.expires_at, LEAST(
		` + at + ` + (CASE WHEN s.remember_me THEN ` + remember + ` ELSE ` + ttl + ` END) * interval '1 microsecond',
		s.created_at + ` + absolute + ` * interval '1 microsecond')) ELSE s.expires_at END`
}

var _ session.Store = (*Store)(nil)

// NewStore returns a Store using pool.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, known: otter.Must(&otter.Options[deviceKey, struct{}]{
		MaximumSize:      100_000,
		ExpiryCalculator: otter.ExpiryWriting[deviceKey, struct{}](time.Hour),
	})}
}

// Connect opens a pool for dsn and checks that it answers. A non-nil tracer
// sees every query (tests count them with it).
func Connect(ctx context.Context, dsn string, tracer ...pgx.QueryTracer) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may include the DSN (and its password): keep it out.
		return nil, errors.New("postgres: database URL is not valid")
	}
	if len(tracer) > 0 && tracer[0] != nil {
		cfg.ConnConfig.Tracer = tracer[0]
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, interpret("connect", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, interpret("connect", err)
	}
	return pool, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return interpret("ping", s.pool.Ping(ctx)) }

const userCols = `id, username, email, is_active, roles`

func scanUser(row pgx.Row) (session.User, error) {
	var u session.User
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.IsActive, &u.Roles)
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u, err
}

// UpsertUser implements session.Store.
func (s *Store) UpsertUser(ctx context.Context, u session.User) (session.User, bool, []session.Hash, error) {
	var (
		out     session.User
		created bool
		hashes  []session.Hash
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The old row, locked, tells the audit record what changed.
		// (A user created concurrently after this read compares with the
		// empty user: every field it set counts as changed.)
		old, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 FOR UPDATE`, u.ID))
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// xmax = 0 only for a freshly inserted row.
		row := tx.QueryRow(ctx, `
			INSERT INTO users (id, username, email, is_active, roles)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET
				username = EXCLUDED.username, email = EXCLUDED.email,
				is_active = EXCLUDED.is_active, roles = EXCLUDED.roles,
				updated_at = now()
			RETURNING `+userCols+`, (xmax = 0)`, u.ID, u.Username, u.Email, u.IsActive, u.Roles)
		if err := row.Scan(&out.ID, &out.Username, &out.Email, &out.IsActive, &out.Roles, &created); err != nil {
			return err
		}
		if out.Roles == nil {
			out.Roles = []string{}
		}
		if created {
			return appendAudit(ctx, tx, auditEntry{event: session.EventUserCreated, userID: u.ID,
				details: map[string]any{"is_active": out.IsActive}})
		}
		// The user row is locked until commit, and session creation takes a
		// share lock on it, so this list is complete.
		if hashes, err = collectHashes(tx.Query(ctx, `SELECT token_hash FROM sessions WHERE user_id = $1`, u.ID)); err != nil {
			return err
		}
		changed := changedFields(old, out)
		if len(changed) == 0 {
			return nil
		}
		event := session.EventUserUpdated
		if old.IsActive && !out.IsActive {
			event = session.EventUserDeactivated
		}
		return appendAudit(ctx, tx, auditEntry{event: event, userID: u.ID,
			details: map[string]any{"changed": changed, "sessions": len(hashes)}})
	})
	if err != nil {
		return session.User{}, false, nil, interpret("upsert user", err)
	}
	return out, created, hashes, nil
}

// changedFields names the user fields that differ (values stay out of the
// audit log: an email address is personal data).
func changedFields(a, b session.User) []string {
	changed := []string{}
	if a.Username != b.Username {
		changed = append(changed, "username")
	}
	if a.Email != b.Email {
		changed = append(changed, "email")
	}
	if a.IsActive != b.IsActive {
		changed = append(changed, "is_active")
	}
	if !slices.Equal(a.Roles, b.Roles) {
		changed = append(changed, "roles")
	}
	return changed
}

// GetUser implements session.Store.
func (s *Store) GetUser(ctx context.Context, id int64) (session.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return session.User{}, session.ErrUserNotFound
	}
	if err != nil {
		return session.User{}, interpret("get user", err)
	}
	return u, nil
}

// DeleteUser implements session.Store.
func (s *Store) DeleteUser(ctx context.Context, id int64) ([]session.Hash, error) {
	var hashes []session.Hash
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return session.ErrUserNotFound
		}
		hashes, err = collectHashes(tx.Query(ctx, `DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash`, id))
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return err
		}
		return appendAudit(ctx, tx, auditEntry{event: session.EventUserDeleted, userID: id, details: map[string]any{"sessions": len(hashes)}})
	})
	if errors.Is(err, session.ErrUserNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, interpret("delete user", err)
	}
	return hashes, nil
}

const sessionCols = `public_id, user_id, created_at, expires_at, last_activity_at, ip_address, user_agent, remember_me, new_device`

func scanSession(row pgx.Row, extra ...any) (session.Session, error) {
	var ss session.Session
	var id uuid.UUID
	dest := append([]any{&id, &ss.UserID, &ss.CreatedAt, &ss.ExpiresAt, &ss.LastActivityAt, &ss.IPAddress, &ss.UserAgent, &ss.RememberMe, &ss.NewDevice}, extra...)
	if err := row.Scan(dest...); err != nil {
		return session.Session{}, err
	}
	ss.ID = id.String()
	ss.CreatedAt, ss.ExpiresAt, ss.LastActivityAt = ss.CreatedAt.UTC(), ss.ExpiresAt.UTC(), ss.LastActivityAt.UTC()
	return ss, nil
}

// CreateSession implements session.Store.
func (s *Store) CreateSession(ctx context.Context, n session.NewSession) (session.Session, error) {
	var ss session.Session
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// FOR SHARE on the user serialises with deactivation (which updates
		// the row): a session is never created for a user being deactivated.
		row := tx.QueryRow(ctx, `
			WITH u AS (SELECT id FROM users WHERE id = $3 AND is_active FOR SHARE)
			INSERT INTO sessions (token_hash, public_id, user_id, created_at, expires_at, last_activity_at, ip_address, user_agent, remember_me)
			SELECT $1, $2, u.id, $4, $5, $4, $6, $7, $8 FROM u
			RETURNING `+sessionCols,
			n.Hash[:], n.ID, n.UserID, n.CreatedAt, n.ExpiresAt, n.IPAddress, n.UserAgent, n.RememberMe)
		var err error
		if ss, err = scanSession(row); err != nil {
			return err
		}
		if err := appendAudit(ctx, tx, auditEntry{event: session.EventSessionCreated, userID: ss.UserID, sessionID: ss.ID,
			details: map[string]any{"remember_me": ss.RememberMe, "expires_at": ss.ExpiresAt.Format(time.RFC3339)}}); err != nil {
			return err
		}
		ss.NewDevice, err = recordDevices(ctx, tx, ss.UserID, ss.ID, session.Client{IP: ss.IPAddress, UserAgent: ss.UserAgent}, ss.CreatedAt)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.GetUser(ctx, n.UserID); err != nil {
			return session.Session{}, err
		}
		return session.Session{}, &session.ConflictError{Reason: fmt.Sprintf("user %d is inactive", n.UserID)}
	}
	if isUniqueViolation(err) {
		return session.Session{}, &session.ConflictError{Reason: "session already exists"}
	}
	if err != nil {
		return session.Session{}, interpret("create session", err)
	}
	return ss, nil
}

// Restore implements session.Store with one query joining the user.
func (s *Store) Restore(ctx context.Context, h session.Hash) (session.Restored, error) {
	var r session.Restored
	row := s.pool.QueryRow(ctx, `
		SELECT s.public_id, s.user_id, s.created_at, s.expires_at, s.last_activity_at,
		       s.ip_address, s.user_agent, s.remember_me, s.new_device,
		       u.username, u.email, u.is_active, u.roles
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1`, h[:])
	ss, err := scanSession(row, &r.User.Username, &r.User.Email, &r.User.IsActive, &r.User.Roles)
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Restored{}, session.ErrUnauthenticated
	}
	if err != nil {
		return session.Restored{}, interpret("restore", err)
	}
	r.Session = ss
	r.User.ID = ss.UserID
	if r.User.Roles == nil {
		r.User.Roles = []string{}
	}
	return r, nil
}

// DeleteSession implements session.Store (logout).
func (s *Store) DeleteSession(ctx context.Context, h session.Hash) (bool, error) {
	found := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var userID int64
		var id uuid.UUID
		err := tx.QueryRow(ctx, `DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id, public_id`, h[:]).Scan(&userID, &id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return appendAudit(ctx, tx, auditEntry{event: session.EventSessionCleared, userID: userID, sessionID: id.String()})
	})
	if err != nil {
		return false, interpret("delete session", err)
	}
	return found, nil
}

// DeleteSessionByID implements session.Store (revoke one session).
func (s *Store) DeleteSessionByID(ctx context.Context, id string, userID int64) (session.Hash, error) {
	var b []byte
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var owner int64
		if err := tx.QueryRow(ctx, `
			DELETE FROM sessions WHERE public_id = $1 AND ($2 = 0 OR user_id = $2)
			RETURNING token_hash, user_id`, id, userID).Scan(&b, &owner); err != nil {
			return err
		}
		return appendAudit(ctx, tx, auditEntry{event: session.EventSessionRevoked, userID: owner, sessionID: id,
			details: map[string]any{"by": session.ActorFrom(ctx).Kind}})
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
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, except *session.Hash) ([]session.Hash, error) {
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
		hashes, err = collectHashes(tx.Query(ctx, `
			DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR token_hash <> $2)
			RETURNING token_hash`, userID, keep))
		if err != nil {
			return err
		}
		e := auditEntry{event: session.EventSessionsRevokedAll, userID: userID, details: map[string]any{"count": len(hashes)}}
		if except != nil {
			e.event = session.EventSessionsRevokedOthers
			var kept uuid.UUID
			if err := tx.QueryRow(ctx, `SELECT public_id FROM sessions WHERE token_hash = $1`, keep).Scan(&kept); err == nil {
				e.sessionID = kept.String()
			}
		}
		return appendAudit(ctx, tx, e)
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
func (s *Store) ListSessions(ctx context.Context, userID int64, now time.Time) ([]session.Session, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+sessionCols+` FROM sessions
		WHERE user_id = $1 AND expires_at > $2
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

// RecordActivity implements session.Store.
func (s *Store) RecordActivity(ctx context.Context, h session.Hash, at time.Time, ip, userAgent string) error {
	r := s.rolling
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var userID int64
		var id uuid.UUID
		if err := tx.QueryRow(ctx, `
			UPDATE sessions s SET last_activity_at = GREATEST(s.last_activity_at, $2), ip_address = $3, user_agent = $4,
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

// TouchSessions writes a batch of coalesced activity in one statement.
// Touches from another address or user agent than the session's own then go
// through new-device detection, each in a short transaction of its own,
// unless this replica saw the user use that device within the hour.
func (s *Store) TouchSessions(ctx context.Context, ts []session.Touch) error {
	if len(ts) == 0 {
		return nil
	}
	ids := make([]string, len(ts))
	ats := make([]time.Time, len(ts))
	ips := make([]string, len(ts))
	uas := make([]string, len(ts))
	for i, t := range ts {
		ids[i], ats[i], ips[i], uas[i] = t.SessionID, t.At, t.Client.IP, t.Client.UserAgent
	}
	r := s.rolling
	rows, err := s.pool.Query(ctx, `
		UPDATE sessions s SET last_activity_at = v.at,
			expires_at = `+rollingExpiry("v.at", "$3::bool", "$4::bigint", "$5::bigint", "$6::bigint")+`
		FROM unnest($1::uuid[], $2::timestamptz[], $7::text[], $8::text[]) AS v(id, at, ip, ua)
		WHERE s.public_id = v.id AND s.last_activity_at < v.at
		RETURNING s.public_id, s.user_id, v.at, v.ip, v.ua,
			(v.ip <> '' AND v.ip <> s.ip_address) OR (v.ua <> '' AND v.ua <> s.user_agent)`, ids, ats,
		r.On, r.TTL.Microseconds(), r.RememberTTL.Microseconds(), r.Absolute.Microseconds(), ips, uas)
	if err != nil {
		return interpret("touch sessions", err)
	}
	type other struct {
		id     uuid.UUID
		userID int64
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
	// Each detection is a transaction of its own, so the audit head is
	// never held for a whole batch.
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

// knows reports whether this replica saw the user use both the address
// and the user agent of c within the hour.
func (s *Store) knows(userID int64, c session.Client) bool {
	for _, k := range deviceKeys(userID, c) {
		if _, ok := s.known.GetIfPresent(k); !ok {
			return false
		}
	}
	return true
}

func (s *Store) remember(userID int64, c session.Client) {
	for _, k := range deviceKeys(userID, c) {
		s.known.Set(k, struct{}{})
	}
}

func deviceKeys(userID int64, c session.Client) []deviceKey {
	var ks []deviceKey
	if c.IP != "" {
		ks = append(ks, deviceKey{userID, "ip_address", c.IP})
	}
	if c.UserAgent != "" {
		ks = append(ks, deviceKey{userID, "user_agent", c.UserAgent})
	}
	return ks
}

// recordDevices notes the client's address and user agent among the
// user's devices and reports whether either was new to a user who already
// had devices; then the session is flagged and session.new_device audited
// (in tx, the transaction of the activity or creation).
func recordDevices(ctx context.Context, tx pgx.Tx, userID int64, sessionID string, c session.Client, at time.Time) (bool, error) {
	var known int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM user_devices WHERE user_id = $1`, userID).Scan(&known); err != nil {
		return false, err
	}
	var fresh []string
	for _, d := range []struct{ kind, value string }{{"ip_address", c.IP}, {"user_agent", c.UserAgent}} {
		if d.value == "" {
			continue
		}
		var inserted bool
		if err := tx.QueryRow(ctx, `
			INSERT INTO user_devices (user_id, kind, value, first_seen, last_seen) VALUES ($1, $2, $3, $4, $4)
			ON CONFLICT (user_id, kind, value) DO UPDATE SET last_seen = GREATEST(user_devices.last_seen, EXCLUDED.last_seen)
			RETURNING (xmax = 0)`, userID, d.kind, d.value, at).Scan(&inserted); err != nil {
			return false, err
		}
		if inserted {
			fresh = append(fresh, d.kind)
		}
	}
	if known == 0 || len(fresh) == 0 {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE sessions SET new_device = true WHERE public_id = $1`, sessionID); err != nil {
		return false, err
	}
	actx := session.WithActor(ctx, session.Actor{Kind: session.ActorSystem, ClientIP: c.IP, UserAgent: c.UserAgent})
	return true, appendAudit(actx, tx, auditEntry{event: session.EventSessionNewDevice, userID: userID, sessionID: sessionID,
		details: map[string]any{"new": fresh}})
}

// AcknowledgeNewDevice implements session.Store.
func (s *Store) AcknowledgeNewDevice(ctx context.Context, h session.Hash) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var userID int64
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
		return appendAudit(ctx, tx, auditEntry{event: session.EventNewDeviceAcknowledged, userID: userID, sessionID: id.String()})
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

// DeleteExpired implements session.Store; a batch that deleted anything
// is one sessions.expired_cleanup record.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]session.Hash, error) {
	var hashes []session.Hash
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		hashes, err = collectHashes(tx.Query(ctx, `
			DELETE FROM sessions WHERE token_hash IN (
				SELECT token_hash FROM sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
			RETURNING token_hash`, now, limit))
		if err != nil || len(hashes) == 0 {
			return err
		}
		return appendAudit(ctx, tx, auditEntry{event: session.EventSessionsExpired, details: map[string]any{"count": len(hashes)}})
	})
	if err != nil {
		return nil, interpret("delete expired", err)
	}
	return hashes, nil
}

// SessionStats implements session.Store with one aggregate query.
func (s *Store) SessionStats(ctx context.Context, userID int64, now time.Time) (session.Stats, error) {
	var st session.Stats
	err := s.pool.QueryRow(ctx, `
		SELECT count(*),
		       count(DISTINCT NULLIF(user_agent, '')),
		       count(DISTINCT NULLIF(ip_address, '')),
		       min(created_at), max(created_at), max(last_activity_at)
		FROM sessions WHERE user_id = $1 AND expires_at > $2`, userID, now).
		Scan(&st.ActiveSessions, &st.DistinctDevices, &st.DistinctAddresses,
			&st.OldestSessionAt, &st.NewestSessionAt, &st.LastActivityAt)
	if err != nil {
		return session.Stats{}, interpret("session stats", err)
	}
	for _, t := range []*time.Time{st.OldestSessionAt, st.NewestSessionAt, st.LastActivityAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return st, nil
}

func collectHashes(rows pgx.Rows, err error) ([]session.Hash, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (session.Hash, error) {
		var b []byte
		if err := r.Scan(&b); err != nil {
			return session.Hash{}, err
		}
		return toHash(b)
	})
}

func toHash(b []byte) (session.Hash, error) {
	var h session.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("postgres: token hash has %d bytes", len(b))
	}
	copy(h[:], b)
	return h, nil
}
