-- Audit records leave the critical path of the change they record. A change
-- writes its record here, in its own transaction (so a committed change
-- always has its record and a rolled-back one never does), without touching
-- audit_head; the sequencer (Store.SequenceAudit: every replica in the
-- background, and every reader of the chain before it reads) then chains the
-- committed records under the head lock, in one transaction that moves them
-- to audit_log. Appenders no longer queue on the head row through their
-- commits: before this, every session create, logout and revoke on every
-- replica held that one lock across its commit's fsync.
--
-- xact ties a record to the webhook events of the same transaction
-- (webhook_events.xact); events_of narrows them to one session (NULL: all
-- of the transaction's events), as appendAudit did when it ran in the
-- change's transaction.
CREATE TABLE audit_pending (
    id          bigserial PRIMARY KEY,
    xact        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at          timestamptz NOT NULL DEFAULT date_trunc('microseconds', clock_timestamp()),
    event       text NOT NULL,
    user_id     text,
    session_id  uuid,
    client_ip   text NOT NULL,
    user_agent  text NOT NULL,
    actor       text NOT NULL,
    details     text NOT NULL,
    events_of   uuid
);
CREATE INDEX audit_pending_xact_idx ON audit_pending (xact);
