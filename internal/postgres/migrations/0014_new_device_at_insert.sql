-- A login from a new device is flagged in its insert (new_device true), no
-- longer by an UPDATE after it: that UPDATE's triggers wrote an
-- invalidation (outbox row, NOTIFY, and every replica's DEL and PUBLISH)
-- for a session no cache could hold yet, 1.3-1.9 ms of Postgres a login in
-- the bench (#19, BENCHMARKS.md). The insert trigger now sends the
-- session.new_device webhook event of such a row, after its
-- session.created, as the update trigger still does for a session flagged
-- by its activity.
CREATE OR REPLACE FUNCTION sessiongw_webhook_sessions_inserted() RETURNS trigger
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
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_events (type, user_id, session_id, data)
    SELECT 'session.new_device', n.user_id, n.public_id,
           jsonb_build_object('session_id', n.public_id, 'user_id', n.user_id, 'ip_address', n.last_ip_address,
                              'user_agent', n.user_agent)
    FROM new_rows n WHERE n.kind = 'session' AND n.new_device;
    PERFORM sessiongw_webhook_notify(TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;
