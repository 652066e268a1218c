-- Webhooks, OIDC back-channel logout and signed identity.
--
-- Webhook events are written by triggers in the transaction of the change
-- they describe, so an event is never lost and never sent for a change that
-- rolled back, and changes made with plain SQL produce them too. Our own
-- statements name their reason in the transaction-local setting
-- sessiongw.reason; a change without one is "external_sql". Nothing is
-- written while no webhook endpoint is registered.

-- The endpoints some replica is configured with (their URLs and secrets stay
-- in the replicas' configuration); a replica refreshes seen_at while it runs.
CREATE TABLE webhook_endpoints (
    name     text PRIMARY KEY,
    seen_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_events (
    id          bigserial PRIMARY KEY,
    uid         uuid NOT NULL DEFAULT gen_random_uuid(), -- the webhook-id
    type        text NOT NULL,
    user_id     text NOT NULL DEFAULT '',                -- deliveries are ordered per user
    session_id  uuid,
    data        jsonb NOT NULL DEFAULT '{}',
    audit_seq   bigint,                                   -- the audit record of the change
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    xact        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    fanned_out  boolean NOT NULL DEFAULT false            -- deliveries created
);
CREATE INDEX webhook_events_new_idx ON webhook_events (id) WHERE NOT fanned_out;
CREATE INDEX webhook_events_xact_idx ON webhook_events (xact) WHERE audit_seq IS NULL AND NOT fanned_out;
CREATE INDEX webhook_events_at_idx ON webhook_events (at);

CREATE TABLE webhook_deliveries (
    endpoint     text NOT NULL,
    event_id     bigint NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    user_id      text NOT NULL,
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now(),
    last_status  integer,
    last_error   text NOT NULL DEFAULT '',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (endpoint, event_id)
);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (endpoint, user_id, event_id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

CREATE FUNCTION sessiongw_webhooks_on() RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT EXISTS (SELECT 1 FROM webhook_endpoints)
$$;

CREATE FUNCTION sessiongw_webhook_reason() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('sessiongw.reason', true), ''), 'external_sql')
$$;

CREATE FUNCTION sessiongw_webhook_notify(schema_name text) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('sgw_wh_' || md5(schema_name), '')
$$;

CREATE FUNCTION sessiongw_webhook_sessions_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF NOT sessiongw_webhooks_on() THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_events (type, user_id, session_id, data)
    SELECT 'session.created', n.user_id, n.public_id,
           jsonb_build_object('session_id', n.public_id, 'user_id', n.user_id, 'ip_address', n.ip_address,
                              'user_agent', n.user_agent, 'remember_me', n.remember_me, 'expires_at', n.expires_at)
    FROM new_rows n WHERE n.kind = 'session';
    IF FOUND THEN
        PERFORM sessiongw_webhook_notify(TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION sessiongw_webhook_sessions_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    why text := sessiongw_webhook_reason();
BEGIN
    -- Expiry is not a revocation: cleanup deletes say so and send nothing.
    IF why = 'expired' OR NOT sessiongw_webhooks_on() THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_events (type, user_id, session_id, data)
    SELECT 'session.revoked', o.user_id, o.public_id,
           jsonb_build_object('session_id', o.public_id, 'user_id', o.user_id, 'ip_address', o.last_ip_address,
                              'user_agent', o.user_agent, 'reason', why)
    FROM old_rows o WHERE o.kind = 'session' ORDER BY o.created_at, o.public_id;
    IF FOUND THEN
        PERFORM sessiongw_webhook_notify(TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END $$;

-- Dynamic SQL, planned per statement with the transition tables' real
-- sizes (see 0009: activity batches update thousands of rows).
CREATE FUNCTION sessiongw_webhook_sessions_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT sessiongw_webhooks_on() THEN
        RETURN NULL;
    END IF;
    EXECUTE $q$
        WITH changed AS (
            SELECT n.*, o.token_hash <> n.token_hash AS rotated, (NOT o.new_device AND n.new_device) AS flagged
            FROM old_rows o JOIN new_rows n ON n.public_id = o.public_id
            WHERE n.kind = 'session' AND (o.token_hash <> n.token_hash OR (NOT o.new_device AND n.new_device))),
        ins AS (
            INSERT INTO webhook_events (type, user_id, session_id, data)
            SELECT 'session.revoked', c.user_id, c.public_id,
                   jsonb_build_object('session_id', c.public_id, 'user_id', c.user_id, 'ip_address', c.last_ip_address,
                                      'user_agent', c.user_agent, 'reason',
                                      CASE WHEN sessiongw_webhook_reason() = 'external_sql' THEN 'external_sql' ELSE 'rotated' END)
            FROM changed c WHERE c.rotated
            UNION ALL
            SELECT 'session.new_device', c.user_id, c.public_id,
                   jsonb_build_object('session_id', c.public_id, 'user_id', c.user_id, 'ip_address', c.last_ip_address,
                                      'user_agent', c.user_agent)
            FROM changed c WHERE c.flagged
            RETURNING 1)
        SELECT count(*) FROM ins$q$ INTO n;
    IF n > 0 THEN
        PERFORM sessiongw_webhook_notify(TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END $$;

-- A deactivated user's sessions are refused from then on: each is reported
-- revoked (reason user_deactivated), after the user.deactivated event.
CREATE FUNCTION sessiongw_webhook_users_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF NOT sessiongw_webhooks_on() THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_events (type, user_id, data)
    SELECT 'user.deactivated', n.id, jsonb_build_object('user_id', n.id, 'reason', sessiongw_webhook_reason())
    FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.is_active AND NOT n.is_active;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_events (type, user_id, session_id, data)
    SELECT 'session.revoked', s.user_id, s.public_id,
           jsonb_build_object('session_id', s.public_id, 'user_id', s.user_id, 'ip_address', s.last_ip_address,
                              'user_agent', s.user_agent, 'reason', 'user_deactivated')
    FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN sessions s ON s.user_id = n.id
    WHERE o.is_active AND NOT n.is_active AND s.kind = 'session' AND s.expires_at > now()
    ORDER BY s.user_id, s.created_at, s.public_id;
    PERFORM sessiongw_webhook_notify(TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

CREATE FUNCTION sessiongw_webhook_users_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF NOT sessiongw_webhooks_on() THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_events (type, user_id, data)
    SELECT 'user.deleted', o.id, jsonb_build_object('user_id', o.id, 'reason', sessiongw_webhook_reason()) FROM old_rows o;
    IF FOUND THEN
        PERFORM sessiongw_webhook_notify(TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_webhook_inserted AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sessiongw_webhook_sessions_inserted();
CREATE TRIGGER sessions_webhook_deleted AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sessiongw_webhook_sessions_deleted();
CREATE TRIGGER sessions_webhook_updated AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sessiongw_webhook_sessions_updated();
CREATE TRIGGER users_webhook_updated AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sessiongw_webhook_users_updated();
CREATE TRIGGER users_webhook_deleted AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sessiongw_webhook_users_deleted();

-- OIDC: the identity provider's references of a session, set at creation,
-- for back-channel logout; and the logout tokens already used (jti replay).
ALTER TABLE sessions ADD COLUMN oidc_iss text, ADD COLUMN oidc_sub text, ADD COLUMN oidc_sid text;
CREATE INDEX sessions_oidc_sid_idx ON sessions (oidc_iss, oidc_sid) WHERE oidc_sid IS NOT NULL;
CREATE INDEX sessions_oidc_sub_idx ON sessions (oidc_iss, oidc_sub) WHERE oidc_iss IS NOT NULL;

CREATE TABLE oidc_logout_tokens (
    iss         text NOT NULL,
    jti         text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (iss, jti)
);
CREATE INDEX oidc_logout_tokens_expires_idx ON oidc_logout_tokens (expires_at);

-- Signing keys of the identity JWT when no key file is configured: the first
-- replica generates one, every replica signs with the newest and publishes all.
CREATE TABLE identity_jwt_keys (
    kid          text PRIMARY KEY,
    private_der  bytea NOT NULL, -- PKCS #8
    created_at   timestamptz NOT NULL DEFAULT now()
);
