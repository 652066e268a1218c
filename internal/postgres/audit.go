package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiongw/sessiongw/internal/session"
)

var _ session.AuditLog = (*Store)(nil)

// appendAudit links one record to the chain inside tx, the transaction of
// the change it records. Locking the head row serialises appenders from
// every replica until commit; call it last in the transaction, after the
// change's own locks, so the head is held briefly and locks are always
// taken in the same order.
func appendAudit(ctx context.Context, tx pgx.Tx, e session.AuditEntry) error {
	a := session.ActorFrom(ctx)
	r := session.AuditRecord{
		Event: e.Event, UserID: e.UserID, SessionID: e.SessionID,
		ClientIP: a.ClientIP, UserAgent: a.UserAgent, Actor: a.Kind,
		Details: session.AuditDetails(e.Details),
	}
	// The database clock stamps every record, so times follow the chain
	// whatever the replicas' clocks say.
	var prevSeq int64
	if err := tx.QueryRow(ctx, `SELECT seq, hash, date_trunc('microseconds', clock_timestamp()) FROM audit_head WHERE id = 1 FOR UPDATE`).
		Scan(&prevSeq, (*[]byte)(&r.PrevHash), &r.At); err != nil {
		return err
	}
	r.Seq = prevSeq + 1
	r.At = r.At.UTC()
	r.Hash = session.ChainHash(r.PrevHash, r)
	var userID, sessionID any
	if r.UserID != "" {
		userID = r.UserID
	}
	if r.SessionID != "" {
		sessionID = r.SessionID
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO audit_log (seq, at, event, user_id, session_id, client_ip, user_agent, actor, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		r.Seq, r.At, r.Event, userID, sessionID, r.ClientIP, r.UserAgent, r.Actor, string(r.Details), []byte(r.PrevHash), []byte(r.Hash)); err != nil {
		return err
	}
	// The webhook events of the change (written by triggers earlier in tx)
	// learn the sequence of the record that describes them: those of its
	// session, or all of them for a record of many sessions.
	var only any = sessionID
	if e.Event == session.EventSessionsRevokedOthers { // names the session kept
		only = nil
	}
	_, err := tx.Exec(ctx, `
		WITH events AS (
			UPDATE webhook_events SET audit_seq = $1
			WHERE xact = pg_current_xact_id() AND audit_seq IS NULL AND NOT fanned_out
			  AND ($3::uuid IS NULL OR session_id IS NULL OR session_id = $3))
		UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, r.Seq, []byte(r.Hash), only)
	return err
}

// AppendAudit implements session.AuditLog: a record that comes with no
// change of its own (a failed admin authentication).
func (s *Store) AppendAudit(ctx context.Context, e session.AuditEntry) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return appendAudit(ctx, tx, e) })
	return interpret("append audit record", err)
}

const auditCols = `seq, at, event, coalesce(user_id, ''), coalesce(session_id::text, ''), client_ip, user_agent, actor, details, prev_hash, hash`

func scanAudit(row pgx.CollectableRow) (session.AuditRecord, error) {
	var r session.AuditRecord
	var details string
	err := row.Scan(&r.Seq, &r.At, &r.Event, &r.UserID, &r.SessionID, &r.ClientIP, &r.UserAgent, &r.Actor, &details,
		(*[]byte)(&r.PrevHash), (*[]byte)(&r.Hash))
	r.At = r.At.UTC()
	r.Details = json.RawMessage(details)
	return r, err
}

// AuditRecords implements session.AuditLog.
func (s *Store) AuditRecords(ctx context.Context, f session.AuditFilter) ([]session.AuditRecord, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+auditCols+` FROM audit_log
		WHERE seq > $1 AND ($2::text = '' OR user_id = $2::text)
		ORDER BY seq LIMIT $3`, f.After, f.UserID, f.Limit)
	if err != nil {
		return nil, interpret("audit records", err)
	}
	list, err := pgx.CollectRows(rows, scanAudit)
	if err != nil {
		return nil, interpret("audit records", err)
	}
	if list == nil {
		list = []session.AuditRecord{}
	}
	return list, nil
}

// WalkAudit implements session.AuditLog: the bounds and every record come
// from one snapshot, so appends made meanwhile are neither half seen nor
// mistaken for a break.
func (s *Store) WalkAudit(ctx context.Context, w session.AuditWalker) (session.AuditChain, error) {
	var c session.AuditChain
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT seq, hash, base_seq, base_hash FROM audit_head WHERE id = 1`).
			Scan(&c.Head.Seq, (*[]byte)(&c.Head.Hash), &c.Base.Seq, (*[]byte)(&c.Base.Hash)); err != nil {
			return err
		}
		w.Start(c)
		rows, err := tx.Query(ctx, `SELECT `+auditCols+` FROM audit_log ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanAudit(rows)
			if err != nil {
				return err
			}
			if !w.Add(r) {
				return errStopWalk
			}
		}
		return rows.Err()
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return session.AuditChain{}, interpret("walk audit log", err)
	}
	return c, nil
}

var errStopWalk = errors.New("stop")

// PruneAudit implements session.AuditLog in one transaction holding the
// head: the prune record is appended, then the records up to the last one
// written before before are deleted and the base moves to it.
func (s *Store) PruneAudit(ctx context.Context, before time.Time, prune func(session.AuditHead, int) session.AuditEntry) (session.AuditPruned, error) {
	var out session.AuditPruned
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var baseSeq int64
		if err := tx.QueryRow(ctx, `SELECT base_seq FROM audit_head WHERE id = 1 FOR UPDATE`).Scan(&baseSeq); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
			SELECT seq, hash FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log WHERE at < $1)`, before).
			Scan(&out.Through.Seq, (*[]byte)(&out.Through.Hash))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // nothing old enough
		}
		if err != nil {
			return err
		}
		out.Records = int(out.Through.Seq - baseSeq)
		if err := appendAudit(ctx, tx, prune(out.Through, out.Records)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM audit_log WHERE seq <= $1`, out.Through.Seq); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE audit_head SET base_seq = $1, base_hash = $2 WHERE id = 1`, out.Through.Seq, []byte(out.Through.Hash))
		return err
	})
	if err != nil {
		return session.AuditPruned{}, interpret("prune audit log", err)
	}
	return out, nil
}
