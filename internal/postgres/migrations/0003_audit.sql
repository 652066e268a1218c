-- The tamper-evident audit log. Each record carries
-- hash = SHA-256(prev_hash || canonical encoding of the record), computed by
-- the gateway (session.ChainHash). Appends take the single audit_head row
-- FOR UPDATE inside the transaction of the change they record, so replicas
-- append one at a time (no forks, no gaps), a committed change always has
-- its record and a rolled-back one never does.
CREATE TABLE audit_head (
    id    int PRIMARY KEY CHECK (id = 1),
    seq   bigint NOT NULL,
    hash  bytea NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_log (
    seq         bigint PRIMARY KEY,
    at          timestamptz NOT NULL,
    event       text NOT NULL,
    user_id     bigint,
    session_id  uuid,
    client_ip   text NOT NULL,
    user_agent  text NOT NULL,
    actor       text NOT NULL,
    details     text NOT NULL, -- canonical JSON, exactly as hashed
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL
);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, seq);
