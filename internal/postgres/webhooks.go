package postgres

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/webhook"
)

// The webhook outbox: events are written by triggers (migration 0010) in the
// transaction of each change; this file is the worker's side of it.

var _ webhook.Store = (*Store)(nil)

// withReason names, for the triggers, why the statements that follow in tx
// delete or rotate sessions (the data's "reason" of session.revoked).
func withReason(ctx context.Context, tx pgx.Tx, reason string) error {
	_, err := tx.Exec(ctx, setReason, reason)
	return err
}

// queueReason is withReason as one statement of a pipeline.
func queueReason(b *pgx.Batch, reason string) { b.Queue(setReason, reason) }

const setReason = `SELECT set_config('sessiongw.reason', $1, true)`

// revokeReason is the reason of a revoke by public id, from who made it.
func revokeReason(ctx context.Context) string {
	if session.ActorFrom(ctx).Kind == session.ActorAdmin {
		return webhook.ReasonAdmin
	}
	return webhook.ReasonRevoke
}

// WebhookChannel returns the NOTIFY channel the triggers wake the worker on.
func WebhookChannel(schema string) string {
	sum := md5.Sum([]byte(schema))
	return "sgw_wh_" + hex.EncodeToString(sum[:])
}

// endpointForgetAfter is how long an endpoint no replica mentions keeps
// collecting events.
const endpointForgetAfter = time.Hour

// RegisterEndpoints implements webhook.Store.
func (s *Store) RegisterEndpoints(ctx context.Context, names []string) error {
	_, err := s.pool.Exec(ctx, `
		WITH seen AS (
			INSERT INTO webhook_endpoints (name, seen_at) SELECT unnest($1::text[]), now()
			ON CONFLICT (name) DO UPDATE SET seen_at = now() RETURNING name)
		DELETE FROM webhook_endpoints WHERE seen_at < now() - $2::interval AND name NOT IN (SELECT name FROM seen)`,
		names, endpointForgetAfter)
	return interpret("register webhook endpoints", err)
}

// leadRetry is how often a replica that is not the worker tries to become
// it.
const leadRetry = 2 * time.Second

// Lead implements webhook.Store with a session-level advisory lock held on
// a dedicated connection, which also LISTENs for new events: the lock goes
// with the connection, so a replica that dies or loses the database stops
// being the worker, and another takes over within leadRetry.
func (s *Store) Lead(ctx context.Context, run func(ctx context.Context, wake <-chan struct{})) error {
	for ctx.Err() == nil {
		if err := s.leadOnce(ctx, run); err != nil && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(leadRetry):
			}
		}
	}
	return nil
}

var errNotLeader = errors.New("another replica delivers webhooks")

func (s *Store) leadOnce(ctx context.Context, run func(ctx context.Context, wake <-chan struct{})) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The lock and LISTEN belong to this connection: never hand it back.
	pc := conn.Hijack()
	defer pc.Close(context.WithoutCancel(ctx))
	var (
		schema string
		got    bool
	)
	if err := pc.QueryRow(ctx, `SELECT current_schema(), pg_try_advisory_lock(hashtext('sessiongw.webhooks:' || current_schema()))`).
		Scan(&schema, &got); err != nil {
		return err
	}
	if !got {
		return errNotLeader
	}
	if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{WebhookChannel(schema)}.Sanitize()); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(lctx, wake)
	}()
	defer func() { cancel(); <-done }()
	for {
		wctx, wcancel := context.WithTimeout(lctx, 5*time.Second)
		_, err := pc.WaitForNotification(wctx)
		wcancel()
		switch {
		case err == nil:
			select {
			case wake <- struct{}{}:
			default:
			}
		case lctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded) && !pc.IsClosed():
			// Quiet: make sure the connection (and so the lock) is alive.
			if err := pc.Ping(lctx); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// FanOut implements webhook.Store: new events become deliveries, one per
// endpoint whose route takes their type, and are marked fanned out, in one
// transaction. The audit records committed so far are chained first, and an
// event whose transaction still has a record waiting for the sequencer
// waits with it, so every event goes out with its audit_seq; so do the
// user's later events (a change made with plain SQL has no record to wait
// for), so that each user's deliveries keep the order of the changes.
func (s *Store) FanOut(ctx context.Context, routes []webhook.Route, limit int) (int, error) {
	if _, err := s.SequenceAudit(ctx); err != nil {
		return 0, err
	}
	return s.fanOut(ctx, routes, limit)
}

// fanOut is FanOut without chaining the audit records first: one that
// commits after that chaining is still waiting here.
func (s *Store) fanOut(ctx context.Context, routes []webhook.Route, limit int) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH waiting AS (
				SELECT e.id, e.user_id FROM webhook_events e
				WHERE NOT e.fanned_out AND EXISTS (SELECT 1 FROM audit_pending p WHERE p.xact = e.xact))
			SELECT id, type, user_id FROM webhook_events e
			WHERE NOT fanned_out
			  AND NOT EXISTS (SELECT 1 FROM waiting w WHERE w.user_id = e.user_id AND w.id <= e.id)
			ORDER BY id LIMIT $1 FOR UPDATE`, limit)
		if err != nil {
			return err
		}
		type ev struct {
			id        int64
			typ, user string
		}
		evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ev, error) {
			var e ev
			return e, r.Scan(&e.id, &e.typ, &e.user)
		})
		if err != nil || len(evs) == 0 {
			return err
		}
		n = len(evs)
		var eps, users []string
		var ids []int64
		for _, e := range evs {
			for _, r := range routes {
				if r.Takes(e.typ) {
					eps, ids, users = append(eps, r.Endpoint), append(ids, e.id), append(users, e.user)
				}
			}
		}
		if len(ids) > 0 {
			if _, err := tx.Exec(ctx, `
				INSERT INTO webhook_deliveries (endpoint, event_id, user_id)
				SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]) ON CONFLICT DO NOTHING`, eps, ids, users); err != nil {
				return err
			}
		}
		all := make([]int64, len(evs))
		for i, e := range evs {
			all[i] = e.id
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_events SET fanned_out = true WHERE id = ANY($1)`, all)
		return err
	})
	return n, interpret("fan out webhook events", err)
}

const eventCols = `e.id, e.uid, e.type, e.user_id, e.at, e.audit_seq, e.data`

func scanEvent(r pgx.CollectableRow, extra ...any) (webhook.Event, error) {
	var e webhook.Event
	var uid uuid.UUID
	var data []byte
	dest := append([]any{&e.ID, &uid, &e.Type, &e.UserID, &e.At, &e.AuditSeq, &data}, extra...)
	if err := r.Scan(dest...); err != nil {
		return e, err
	}
	e.UID = uid.String()
	e.At = e.At.UTC()
	e.Data = json.RawMessage(data)
	return e, nil
}

// Due implements webhook.Store: the oldest pending delivery of each user
// (later ones wait for it: order per user), if its time has come.
func (s *Store) Due(ctx context.Context, endpoint string, limit int) ([]webhook.Delivery, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+eventCols+`, d.attempts FROM (
			SELECT DISTINCT ON (user_id) event_id, next_at, attempts FROM webhook_deliveries
			WHERE endpoint = $1 AND state = 'pending' ORDER BY user_id, event_id) d
		JOIN webhook_events e ON e.id = d.event_id
		WHERE d.next_at <= now()
		ORDER BY d.event_id LIMIT $2`, endpoint, limit)
	if err != nil {
		return nil, interpret("due webhook deliveries", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhook.Delivery, error) {
		d := webhook.Delivery{Endpoint: endpoint}
		var err error
		d.Event, err = scanEvent(r, &d.Attempts)
		return d, err
	})
	return list, interpret("due webhook deliveries", err)
}

// Record implements webhook.Store.
func (s *Store) Record(ctx context.Context, endpoint string, eventID int64, o webhook.Outcome) error {
	var status *int
	if o.Status != 0 {
		status = &o.Status
	}
	_, err := s.pool.Exec(ctx, `
		UPDATE webhook_deliveries SET state = $3, attempts = attempts + 1, last_status = $4, last_error = $5,
			next_at = coalesce($6, next_at), updated_at = now()
		WHERE endpoint = $1 AND event_id = $2 AND state = 'pending'`,
		endpoint, eventID, o.State, status, o.Error, nullTime(o.NextAt))
	return interpret("record webhook delivery", err)
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// WakeEndpoint implements webhook.Store.
func (s *Store) WakeEndpoint(ctx context.Context, endpoint string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE webhook_deliveries SET next_at = now() WHERE endpoint = $1 AND state = 'pending' AND next_at > now()`, endpoint)
	return interpret("wake webhook endpoint", err)
}

// ExpirePending implements webhook.Store.
func (s *Store) ExpirePending(ctx context.Context, endpoint string, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE webhook_deliveries d SET state = 'failed', updated_at = now(),
			last_error = CASE WHEN d.last_error = '' THEN 'never delivered' ELSE d.last_error END || ' (gave up: older than SESSIONGW_WEBHOOK_MAX_AGE)'
		FROM webhook_events e WHERE e.id = d.event_id AND d.endpoint = $1 AND d.state = 'pending' AND e.at < $2`, endpoint, before)
	if err != nil {
		return 0, interpret("expire webhook deliveries", err)
	}
	return int(tag.RowsAffected()), nil
}

// AddCheckpoint implements webhook.Store: an audit.checkpoint event with
// the audit head, when any endpoint is registered.
func (s *Store) AddCheckpoint(ctx context.Context) error {
	// Chain what has committed first, so the checkpoint covers every
	// change made before it, not only what the sequencer reached.
	if _, err := s.SequenceAudit(ctx); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `
		WITH ins AS (
			INSERT INTO webhook_events (type, data)
			SELECT 'audit.checkpoint', jsonb_build_object('seq', seq, 'hash', encode(hash, 'hex'), 'head', seq || ':' || encode(hash, 'hex'))
			FROM audit_head WHERE id = 1 AND sessiongw_webhooks_on()
			RETURNING 1)
		SELECT count(*) FROM ins`)
	return interpret("add audit checkpoint event", err)
}

// OldestPending implements webhook.Store.
func (s *Store) OldestPending(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT d.endpoint, e.at FROM (SELECT endpoint, min(event_id) AS event_id FROM webhook_deliveries WHERE state = 'pending' GROUP BY endpoint) d
		JOIN webhook_events e ON e.id = d.event_id`)
	if err != nil {
		return nil, interpret("oldest pending webhook", err)
	}
	out := map[string]time.Time{}
	defer rows.Close()
	for rows.Next() {
		var ep string
		var at time.Time
		if err := rows.Scan(&ep, &at); err != nil {
			return nil, interpret("oldest pending webhook", err)
		}
		out[ep] = at
	}
	return out, interpret("oldest pending webhook", rows.Err())
}

// Deliveries implements webhook.Store (the command line's list).
func (s *Store) Deliveries(ctx context.Context, q webhook.Query) ([]webhook.DeliveryInfo, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+eventCols+`, d.endpoint, d.state, d.attempts, d.next_at, coalesce(d.last_status, 0), d.last_error, d.updated_at
		FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
		WHERE ($1 = '' OR d.state = $1) AND ($2 = '' OR d.endpoint = $2)
		ORDER BY d.event_id DESC LIMIT $3`, q.State, q.Endpoint, limit)
	if err != nil {
		return nil, interpret("list webhook deliveries", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhook.DeliveryInfo, error) {
		var d webhook.DeliveryInfo
		var err error
		d.Event, err = scanEvent(r, &d.Endpoint, &d.State, &d.Attempts, &d.NextAt, &d.LastStatus, &d.LastError, &d.UpdatedAt)
		return d, err
	})
	if list == nil {
		list = []webhook.DeliveryInfo{}
	}
	return list, interpret("list webhook deliveries", err)
}

// Replay implements webhook.Store: every event since since that a route
// takes is delivered again (its delivery made pending and due now, or
// created).
func (s *Store) Replay(ctx context.Context, routes []webhook.Route, since time.Time) (int, error) {
	total := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, r := range routes {
			types := r.Types
			tag, err := tx.Exec(ctx, `
				INSERT INTO webhook_deliveries (endpoint, event_id, user_id)
				SELECT $1, id, user_id FROM webhook_events
				WHERE at >= $2 AND fanned_out AND (coalesce(cardinality($3::text[]), 0) = 0 OR type = ANY($3))
				ON CONFLICT (endpoint, event_id) DO UPDATE
					SET state = 'pending', next_at = now(), attempts = 0, last_error = '', last_status = NULL, updated_at = now()`,
				r.Endpoint, since, types)
			if err != nil {
				return err
			}
			total += int(tag.RowsAffected())
		}
		return nil
	})
	return total, interpret("replay webhooks", err)
}

// webhookRetention is how long events are kept after their deliveries
// ended (for replay --since).
const webhookRetention = 7 * 24 * time.Hour

// PurgeEvents implements webhook.Store: events older than before with no
// pending delivery go, with their deliveries.
func (s *Store) PurgeEvents(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM webhook_events e WHERE e.at < $1 AND e.fanned_out
		AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.state = 'pending')`, before)
	if err != nil {
		return 0, interpret("purge webhook events", err)
	}
	return int(tag.RowsAffected()), nil
}

// WebhookRetention is how long PurgeEvents callers keep events.
func WebhookRetention() time.Duration { return webhookRetention }
