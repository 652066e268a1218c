-- sessiongw_webhooks_on() guards every webhook trigger: each INSERT, UPDATE
-- and DELETE of sessions (and users) calls it, webhooks configured or not.
-- As a SQL function with a SET clause it cannot be inlined, and Postgres
-- parsed and planned its one query on every call; in PL/pgSQL the plan is
-- kept for the connection. Same answer, same snapshot rules (STABLE).
-- A one-off pgbench A/B on the 2-core machine of BENCHMARKS.md (not a
-- make bench result), a session's DELETE with its triggers, no endpoint
-- configured: 0.45 -> 0.39 ms of Postgres CPU each (#19).
CREATE OR REPLACE FUNCTION sessiongw_webhooks_on() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM webhook_endpoints);
END $$;
