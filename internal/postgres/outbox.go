package postgres

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiongw/sessiongw/internal/session"
)

var _ session.Outbox = (*Store)(nil)

func scanInvalidation(raw [][]byte) (session.Invalidation, error) {
	if raw == nil {
		return session.Invalidation{All: true}, nil
	}
	hs := make([]session.Hash, 0, len(raw))
	for _, b := range raw {
		h, err := toHash(b)
		if err != nil {
			return session.Invalidation{}, err
		}
		hs = append(hs, h)
	}
	return session.Invalidation{Hashes: hs}, nil
}

// ClaimOutbox implements session.Outbox.
func (s *Store) ClaimOutbox(ctx context.Context, limit int, settle time.Duration, fn func([]session.Invalidation) error) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT id, hashes FROM invalidation_outbox
			WHERE done_at IS NULL AND (origin IS NULL OR created_at < clock_timestamp() - make_interval(secs => $2))
			ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit, settle.Seconds())
		if err != nil {
			return err
		}
		var ids []int64
		var batch []session.Invalidation
		for rows.Next() {
			var id int64
			var raw [][]byte
			if err := rows.Scan(&id, &raw); err != nil {
				rows.Close()
				return err
			}
			inv, err := scanInvalidation(raw)
			if err != nil {
				rows.Close()
				return err
			}
			ids, batch = append(ids, id), append(batch, inv)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return errRelay{err}
		}
		n = len(batch)
		_, err = tx.Exec(ctx, `UPDATE invalidation_outbox SET done_at = now() WHERE id = ANY($1)`, ids)
		return err
	})
	var re errRelay
	if errors.As(err, &re) {
		return 0, re.err
	}
	if err != nil {
		return 0, interpret("claim outbox", err)
	}
	return n, nil
}

// errRelay carries the relay function's own error through the transaction.
type errRelay struct{ err error }

func (e errRelay) Error() string { return e.err.Error() }

// MarkOutboxDone implements session.Outbox.
func (s *Store) MarkOutboxDone(ctx context.Context, ids []int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE invalidation_outbox SET done_at = now() WHERE id = ANY($1) AND done_at IS NULL`, ids)
	return interpret("mark outbox entries done", err)
}

// OutboxEntry implements session.Outbox.
func (s *Store) OutboxEntry(ctx context.Context, id int64) (session.Invalidation, error) {
	var raw [][]byte
	err := s.pool.QueryRow(ctx, `SELECT hashes FROM invalidation_outbox WHERE id = $1`, id).Scan(&raw)
	if err != nil {
		return session.Invalidation{}, interpret("outbox entry", err)
	}
	return scanInvalidation(raw)
}

// OutboxBacklog implements session.Outbox.
func (s *Store) OutboxBacklog(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM invalidation_outbox WHERE done_at IS NULL`).Scan(&n)
	return n, interpret("outbox backlog", err)
}

// RecentInvalidations implements session.Outbox.
func (s *Store) RecentInvalidations(ctx context.Context, within time.Duration) ([]session.Invalidation, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT hashes FROM invalidation_outbox
		WHERE created_at >= now() - make_interval(secs => $1) ORDER BY id`, within.Seconds())
	if err != nil {
		return nil, interpret("recent invalidations", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (session.Invalidation, error) {
		var raw [][]byte
		if err := row.Scan(&raw); err != nil {
			return session.Invalidation{}, err
		}
		return scanInvalidation(raw)
	})
	return out, interpret("recent invalidations", err)
}

// PurgeOutbox implements session.Outbox.
func (s *Store) PurgeOutbox(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM invalidation_outbox WHERE done_at IS NOT NULL AND done_at < $1`, before)
	if err != nil {
		return 0, interpret("purge outbox", err)
	}
	return int(tag.RowsAffected()), nil
}

// NotifyChannel returns the NOTIFY channel of the outbox in schema (the
// triggers use the same name).
func NotifyChannel(schema string) string {
	sum := md5.Sum([]byte(schema))
	return "sgw_" + hex.EncodeToString(sum[:])
}

// parseNotify reads an outbox NOTIFY payload: "<id>", or "<id>:<hex>,…"
// when it carries the entry's hashes; an "o" in front marks an owned entry.
func parseNotify(payload string) (session.Notice, error) {
	var n session.Notice
	rest, owned := strings.CutPrefix(payload, "o")
	n.Owned = owned
	idPart, list, withHashes := strings.Cut(rest, ":")
	id, err := strconv.ParseInt(idPart, 10, 64)
	if err != nil {
		return session.Notice{}, fmt.Errorf("postgres: outbox notification %q: %w", payload, err)
	}
	n.ID = id
	if !withHashes {
		return n, nil
	}
	inv := &session.Invalidation{}
	for item := range strings.SplitSeq(list, ",") {
		h, err := session.ParseHash(item)
		if err != nil {
			return session.Notice{}, fmt.Errorf("postgres: outbox notification %d: %w", id, err)
		}
		inv.Hashes = append(inv.Hashes, h)
	}
	n.Carried = inv
	return n, nil
}

// Listen receives the outbox NOTIFYs on a dedicated connection until ctx
// ends, reconnecting after failures. onReset runs on every (re)connection,
// since notifications sent while disconnected are lost.
func Listen(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, onNotify func(session.Notice), onReset func()) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, onNotify, onReset)
		if ctx.Err() != nil {
			return
		}
		log.Debug("outbox listener reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, onNotify func(session.Notice), onReset func()) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection carries LISTEN state: never hand it back to the pool.
	pc := conn.Hijack()
	defer pc.Close(context.WithoutCancel(ctx))
	var schema string
	if err := pc.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel(schema)}.Sanitize()); err != nil {
		return err
	}
	onReset()
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		notice, err := parseNotify(n.Payload)
		if err != nil {
			return err // reconnecting flushes: we cannot tell what changed
		}
		onNotify(notice)
	}
}
