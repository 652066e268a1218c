-- Two changes that save every invalidation work on every replica.
--
-- 1. The outbox NOTIFY carries the hashes it names ("<id>:<hex>,<hex>,…"),
--    so the replicas that hear it drop their copies without reading the row
--    back (before: one query per replica per invalidation). Up to 100 hashes
--    fit well inside NOTIFY's 8000-byte payload; a larger change, and a
--    TRUNCATE (every session), still send the id alone and are read back.
--
-- 2. An entry can have an origin: the replica that made the change in this
--    transaction (the transaction-local setting sessiongw.origin) and will
--    propagate it itself, then mark it done. The entry's id is left in the
--    transaction-local setting sessiongw.outbox_id for that replica, the
--    payload starts with "o" so that the others' relays are not woken for
--    it, and relays claim it only once it has waited longer than its origin
--    could take (Store.ClaimOutbox's settle). Before this, the relay
--    repeated every invalidation the replica making it had already
--    propagated. Entries without an origin (plain SQL, and every change
--    but logouts) are relayed at once, as before.
--
-- Replicas older than this migration cannot parse the new payload: their
-- listener reconnects, which flushes their in-process cache (safe, but
-- their hit rate drops until they are upgraded).
ALTER TABLE invalidation_outbox ADD COLUMN origin text;

CREATE OR REPLACE FUNCTION sessiongw_outbox_add(schema_name text, hs bytea[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    new_id bigint;
    owner text := nullif(current_setting('sessiongw.origin', true), '');
    payload text;
BEGIN
    IF hs IS NOT NULL AND cardinality(hs) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO invalidation_outbox (hashes, origin, created_at) VALUES (hs, owner, clock_timestamp())
    RETURNING id INTO new_id;
    payload := new_id::text;
    IF hs IS NOT NULL AND cardinality(hs) <= 100 THEN
        payload := payload || ':' || array_to_string(ARRAY(SELECT encode(h, 'hex') FROM unnest(hs) AS h), ',');
    END IF;
    IF owner IS NOT NULL THEN
        PERFORM set_config('sessiongw.outbox_id', new_id::text, true);
        payload := 'o' || payload;
    END IF;
    PERFORM pg_notify('sgw_' || md5(schema_name), payload);
END $$;
