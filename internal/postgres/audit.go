package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiongw/sessiongw/internal/session"
)

var _ session.AuditLog = (*Store)(nil)

// appendAudit records e inside tx, the transaction of the change it
// records: a committed change always has its record and a rolled-back one
// never does. It takes no lock: the record waits in audit_pending until
// the sequencer chains it (chainPending), so appenders on every replica no
// longer queue on the head row through their commits. The database clock
// stamps every record, whatever the replicas' clocks say.
func appendAudit(ctx context.Context, tx pgx.Tx, e session.AuditEntry) error {
	_, err := tx.Exec(ctx, auditInsert, auditArgs(ctx, e)...)
	return err
}

// queueAudit is appendAudit as one statement of a pipeline.
func queueAudit(ctx context.Context, b *pgx.Batch, e session.AuditEntry) {
	b.Queue(auditInsert, auditArgs(ctx, e)...)
}

const auditInsert = `
	INSERT INTO audit_pending (event, user_id, session_id, client_ip, user_agent, actor, details, events_of)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

func auditArgs(ctx context.Context, e session.AuditEntry) []any {
	v := auditValuesOf(ctx, e)
	return []any{v.event, v.userID, v.sessionID, v.clientIP, v.userAgent, v.actor, v.details, v.eventsOf}
}

// auditValues are the columns of an audit_pending row (nil: NULL).
type auditValues struct {
	event, clientIP, userAgent, actor, details string
	userID, sessionID, eventsOf                *string
}

func auditValuesOf(ctx context.Context, e session.AuditEntry) auditValues {
	a := session.ActorFrom(ctx)
	v := auditValues{event: e.Event, clientIP: a.ClientIP, userAgent: a.UserAgent, actor: a.Kind,
		details: string(session.AuditDetails(e.Details))}
	if e.UserID != "" {
		v.userID = &e.UserID
	}
	if e.SessionID != "" {
		v.sessionID = &e.SessionID
	}
	// The webhook events of the change (written by triggers in its
	// transaction) learn the sequence of the record that describes them:
	// those of its session, or all of them for a record of many sessions.
	if e.Event != session.EventSessionsRevokedOthers { // that one names the session kept
		v.eventsOf = v.sessionID
	}
	return v
}

// sequenceBatch bounds the records one chaining statement set handles.
const sequenceBatch = 5000

// SequenceAudit chains every audit record committed so far (blocking while
// another replica chains), so a read that follows it sees every change
// committed before the call. It returns how many records it chained.
func (s *Store) SequenceAudit(ctx context.Context) (int, error) {
	return s.sequenceAudit(ctx, false)
}

// sequenceAudit chains the committed pending records, in batches, each in
// a transaction holding the head; with skipLocked it returns at once when
// another sequencer holds the head (it will chain what is pending).
func (s *Store) sequenceAudit(ctx context.Context, skipLocked bool) (int, error) {
	total := 0
	for {
		var pending bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_pending)`).Scan(&pending); err != nil {
			return total, interpret("sequence audit records", err)
		}
		if !pending {
			return total, nil
		}
		n := 0
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			head, ok, err := lockAuditHead(ctx, tx, skipLocked)
			if err != nil || !ok {
				return err
			}
			n, err = chainPending(ctx, tx, &head)
			return err
		})
		total += n
		if err != nil {
			return total, interpret("sequence audit records", err)
		}
		if n < sequenceBatch {
			return total, nil
		}
	}
}

// lockAuditHead takes the head row for the rest of tx (ok false: skipLocked
// and another transaction holds it).
func lockAuditHead(ctx context.Context, tx pgx.Tx, skipLocked bool) (session.AuditHead, bool, error) {
	q := `SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`
	if skipLocked {
		q += ` SKIP LOCKED`
	}
	var h session.AuditHead
	err := tx.QueryRow(ctx, q).Scan(&h.Seq, (*[]byte)(&h.Hash))
	if skipLocked && errors.Is(err, pgx.ErrNoRows) {
		return h, false, nil
	}
	return h, err == nil, err
}

// chainPending links up to sequenceBatch pending records to the chain after
// head, in the order they were written, inside tx, which holds the head
// row; head moves to the last record chained. Records of transactions that
// have not committed are invisible here and wait for a later pass, so each
// committed record is chained exactly once.
func chainPending(ctx context.Context, tx pgx.Tx, head *session.AuditHead) (int, error) {
	rows, err := tx.Query(ctx, `
		SELECT id, at, event, coalesce(user_id, ''), coalesce(session_id::text, ''), client_ip, user_agent, actor, details
		FROM audit_pending ORDER BY id LIMIT $1`, sequenceBatch)
	if err != nil {
		return 0, err
	}
	var ids, seqs []int64
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([]any, error) {
		var id int64
		var r session.AuditRecord
		var details string
		if err := row.Scan(&id, &r.At, &r.Event, &r.UserID, &r.SessionID, &r.ClientIP, &r.UserAgent, &r.Actor, &details); err != nil {
			return nil, err
		}
		r.At, r.Details = r.At.UTC(), json.RawMessage(details)
		r.Seq, r.PrevHash = head.Seq+1, head.Hash
		r.Hash = session.ChainHash(r.PrevHash, r)
		head.Seq, head.Hash = r.Seq, r.Hash
		ids, seqs = append(ids, id), append(seqs, r.Seq)
		var userID, sessionID any
		if r.UserID != "" {
			userID = r.UserID
		}
		if r.SessionID != "" {
			sessionID = r.SessionID
		}
		return []any{r.Seq, r.At, r.Event, userID, sessionID, r.ClientIP, r.UserAgent, r.Actor, details, []byte(r.PrevHash), []byte(r.Hash)}, nil
	})
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_log"},
		[]string{"seq", "at", "event", "user_id", "session_id", "client_ip", "user_agent", "actor", "details", "prev_hash", "hash"},
		pgx.CopyFromRows(recs)); err != nil {
		return 0, err
	}
	// Each webhook event of a chained record's transaction takes the first
	// of its records that names it.
	if _, err := tx.Exec(ctx, `
		UPDATE webhook_events e SET audit_seq = m.seq
		FROM (SELECT DISTINCT ON (w.id) w.id, c.seq
		      FROM unnest($1::bigint[], $2::bigint[]) c (pid, seq)
		      JOIN audit_pending p ON p.id = c.pid
		      JOIN webhook_events w ON w.xact = p.xact AND w.audit_seq IS NULL AND NOT w.fanned_out
		           AND (p.events_of IS NULL OR w.session_id IS NULL OR w.session_id = p.events_of)
		      ORDER BY w.id, c.seq) m
		WHERE e.id = m.id`, ids, seqs); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM audit_pending WHERE id = ANY($1)`, ids); err != nil {
		return 0, err
	}
	_, err = tx.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, head.Seq, []byte(head.Hash))
	return len(recs), err
}

// RunAuditSequencer chains committed audit records every interval until
// ctx ends, then once more; replicas take turns (a pass skips while
// another replica's holds the head).
func (s *Store) RunAuditSequencer(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, err := s.sequenceAudit(fctx, true); err != nil {
				log.Warn("audit sequencer: last pass failed (another replica or reader chains the records)", "err", err)
			}
			return
		case <-t.C:
			if _, err := s.sequenceAudit(ctx, true); err != nil && ctx.Err() == nil {
				log.Warn("audit sequencer: pass failed", "err", err)
			}
		}
	}
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
	if _, err := s.SequenceAudit(ctx); err != nil {
		return nil, err
	}
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

// WalkAudit implements session.AuditLog: the records committed before the
// call are chained first; the bounds and every record come from one
// snapshot, so appends made meanwhile are neither half seen nor mistaken
// for a break.
func (s *Store) WalkAudit(ctx context.Context, w session.AuditWalker) (session.AuditChain, error) {
	var c session.AuditChain
	if _, err := s.SequenceAudit(ctx); err != nil {
		return c, err
	}
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
// head: the pending records are chained, the prune record is appended,
// then the records up to the last one written before before are deleted
// and the base moves to it.
func (s *Store) PruneAudit(ctx context.Context, before time.Time, prune func(session.AuditHead, int) session.AuditEntry) (session.AuditPruned, error) {
	var out session.AuditPruned
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		head, _, err := lockAuditHead(ctx, tx, false)
		if err != nil {
			return err
		}
		for {
			n, err := chainPending(ctx, tx, &head)
			if err != nil {
				return err
			}
			if n < sequenceBatch {
				break
			}
		}
		var baseSeq int64
		if err := tx.QueryRow(ctx, `SELECT base_seq FROM audit_head WHERE id = 1`).Scan(&baseSeq); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `
			SELECT seq, hash FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log WHERE at < $1)`, before).
			Scan(&out.Through.Seq, (*[]byte)(&out.Through.Hash))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // nothing old enough
		}
		if err != nil {
			return err
		}
		out.Records = int(out.Through.Seq - baseSeq)
		// The prune record is chained in this transaction, after every
		// record committed before it.
		if err := appendAudit(ctx, tx, prune(out.Through, out.Records)); err != nil {
			return err
		}
		if _, err := chainPending(ctx, tx, &head); err != nil {
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
