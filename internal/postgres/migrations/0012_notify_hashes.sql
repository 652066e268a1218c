-- The outbox NOTIFY carries the hashes it names ("<id>:<hex>,<hex>,…"), so
-- the replicas that hear it drop their copies without reading the row back:
-- before this, every invalidation cost one query per replica. Up to 100
-- hashes fit well inside NOTIFY's 8000-byte payload; a larger change, and a
-- TRUNCATE (every session), still send the id alone and are read back.
-- Replicas older than this migration cannot parse the new payload: their
-- listener reconnects, which flushes their in-process cache (safe, but
-- their hit rate drops until they are upgraded).
CREATE OR REPLACE FUNCTION sessiongw_outbox_add(schema_name text, hs bytea[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    new_id bigint;
    payload text;
BEGIN
    IF hs IS NOT NULL AND cardinality(hs) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO invalidation_outbox (hashes) VALUES (hs) RETURNING id INTO new_id;
    payload := new_id::text;
    IF hs IS NOT NULL AND cardinality(hs) <= 100 THEN
        payload := payload || ':' || array_to_string(ARRAY(SELECT encode(h, 'hex') FROM unnest(hs) AS h), ',');
    END IF;
    PERFORM pg_notify('sgw_' || md5(schema_name), payload);
END $$;
