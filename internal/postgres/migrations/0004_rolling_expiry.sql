-- Rolling expiry moves expires_at later on activity. A later expiry does not
-- make a cached copy unsafe (caches keep an entry no longer than the expiry
-- they hold, then read the session again), so only an earlier one, or a
-- change of anything else that is cached, invalidates.
CREATE OR REPLACE FUNCTION sessiongw_sessions_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- Activity alone (last_activity_at) does not make a cached copy unsafe.
    PERFORM sessiongw_outbox_add(TG_TABLE_SCHEMA, (
        SELECT coalesce(array_agg(o.token_hash), '{}') FROM old_rows o JOIN new_rows n ON n.public_id = o.public_id
        WHERE (o.token_hash, o.user_id, o.ip_address, o.user_agent, o.remember_me)
              IS DISTINCT FROM (n.token_hash, n.user_id, n.ip_address, n.user_agent, n.remember_me)
           OR n.expires_at < o.expires_at));
    RETURN NULL;
END $$;
