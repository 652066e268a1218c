-- Every change that makes a cached session stale writes an outbox row in the
-- same transaction, from triggers, so changes made with plain SQL by other
-- services are covered exactly like ours. A relay on any replica removes the
-- Redis entries and publishes the invalidation, then marks the row done.
-- hashes NULL means "every session" (TRUNCATE).
CREATE TABLE invalidation_outbox (
    id          bigserial PRIMARY KEY,
    hashes      bytea[],
    created_at  timestamptz NOT NULL DEFAULT now(),
    done_at     timestamptz
);
CREATE INDEX invalidation_outbox_pending_idx ON invalidation_outbox (id) WHERE done_at IS NULL;

-- Wakes relays and replicas; the payload is the outbox id. The channel is
-- per schema ('sgw_' || md5(schema), always short enough) so several
-- deployments can share a database.
-- Functions keep the search_path of the migration, so a writer with another
-- search_path still reaches these tables.
CREATE FUNCTION sessiongw_outbox_add(schema_name text, hs bytea[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    new_id bigint;
BEGIN
    IF hs IS NOT NULL AND cardinality(hs) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO invalidation_outbox (hashes) VALUES (hs) RETURNING id INTO new_id;
    PERFORM pg_notify('sgw_' || md5(schema_name), new_id::text);
END $$;

CREATE FUNCTION sessiongw_sessions_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM sessiongw_outbox_add(TG_TABLE_SCHEMA, (SELECT coalesce(array_agg(token_hash), '{}') FROM old_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION sessiongw_sessions_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- Activity alone (last_activity_at) does not make a cached copy unsafe.
    PERFORM sessiongw_outbox_add(TG_TABLE_SCHEMA, (
        SELECT coalesce(array_agg(o.token_hash), '{}') FROM old_rows o JOIN new_rows n ON n.public_id = o.public_id
        WHERE (o.token_hash, o.user_id, o.expires_at, o.ip_address, o.user_agent, o.remember_me)
              IS DISTINCT FROM (n.token_hash, n.user_id, n.expires_at, n.ip_address, n.user_agent, n.remember_me)));
    RETURN NULL;
END $$;

CREATE FUNCTION sessiongw_sessions_truncated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM sessiongw_outbox_add(TG_TABLE_SCHEMA, NULL);
    RETURN NULL;
END $$;

CREATE FUNCTION sessiongw_users_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM sessiongw_outbox_add(TG_TABLE_SCHEMA, (
        SELECT coalesce(array_agg(s.token_hash), '{}') FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        JOIN sessions s ON s.user_id = n.id
        WHERE (o.username, o.email, o.is_active, o.roles) IS DISTINCT FROM (n.username, n.email, n.is_active, n.roles)));
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sessiongw_sessions_deleted();
CREATE TRIGGER sessions_updated AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sessiongw_sessions_updated();
CREATE TRIGGER sessions_truncated AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION sessiongw_sessions_truncated();
CREATE TRIGGER users_updated AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sessiongw_users_updated();
