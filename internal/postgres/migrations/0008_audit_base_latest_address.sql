-- Audit retention: records older than a cut-off may be pruned. The chain then
-- starts after the last pruned record, whose sequence number and hash are
-- kept here (0 and 32 zero bytes: nothing pruned). The prune itself is an
-- audit.pruned record in the chain naming the same point, so changing the
-- base alone is detected.
ALTER TABLE audit_head
    ADD COLUMN base_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN base_hash bytea NOT NULL DEFAULT decode(repeat('00', 32), 'hex');

-- The address a session was last used from (written with the batched
-- activity), beside ip_address (where it signed in, or last reported
-- itself). Not part of what caches must drop when it changes.
ALTER TABLE sessions ADD COLUMN last_ip_address text NOT NULL DEFAULT '';
UPDATE sessions SET last_ip_address = ip_address;
