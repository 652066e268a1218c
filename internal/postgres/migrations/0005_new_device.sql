-- New-device detection: the client addresses and user agents each user has
-- used (pruned after the detection window), and a per-session flag the
-- holder acknowledges.
ALTER TABLE sessions ADD COLUMN new_device boolean NOT NULL DEFAULT false;

CREATE TABLE user_devices (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('ip_address', 'user_agent')),
    value       text NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    PRIMARY KEY (user_id, kind, value)
);
CREATE INDEX user_devices_last_seen_idx ON user_devices (last_seen);

-- The flag is part of the cached session: changing it invalidates.
CREATE OR REPLACE FUNCTION sessiongw_sessions_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- Activity alone (last_activity_at) and a later expiry (rolling expiry)
    -- do not make a cached copy unsafe.
    PERFORM sessiongw_outbox_add(TG_TABLE_SCHEMA, (
        SELECT coalesce(array_agg(o.token_hash), '{}') FROM old_rows o JOIN new_rows n ON n.public_id = o.public_id
        WHERE (o.token_hash, o.user_id, o.ip_address, o.user_agent, o.remember_me, o.new_device)
              IS DISTINCT FROM (n.token_hash, n.user_id, n.ip_address, n.user_agent, n.remember_me, n.new_device)
           OR n.expires_at < o.expires_at));
    RETURN NULL;
END $$;
