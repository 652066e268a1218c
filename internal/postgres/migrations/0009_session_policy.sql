-- Session policy: per-user session limits, freshness (when and how the user
-- last authenticated), and named API tokens. API tokens live in the sessions
-- table (kind 'api'), so validation, caching and invalidation treat them
-- exactly like sessions; token_roles, when set, narrows the user's roles.
ALTER TABLE users ADD COLUMN max_sessions integer CHECK (max_sessions IS NULL OR max_sessions >= 0);

ALTER TABLE sessions
    ADD COLUMN kind text NOT NULL DEFAULT 'session' CHECK (kind IN ('session', 'api')),
    ADD COLUMN name text NOT NULL DEFAULT '',
    ADD COLUMN token_roles text[],
    ADD COLUMN authenticated_at timestamptz,
    ADD COLUMN amr text[] NOT NULL DEFAULT '{}';
UPDATE sessions SET authenticated_at = created_at;
-- Writers with plain SQL that do not know the column get "now".
ALTER TABLE sessions ALTER COLUMN authenticated_at SET NOT NULL, ALTER COLUMN authenticated_at SET DEFAULT now();
CREATE INDEX sessions_user_kind_idx ON sessions (user_id, kind);

-- What a cached copy holds changed: the update trigger compares the new
-- columns too. It runs its comparison as dynamic SQL, planned afresh on
-- every statement with the transition tables' real sizes: PL/pgSQL caches
-- the plan of static SQL per connection, and a plan made for a small update
-- (a nested loop over the two transition tables) turned a 20,000-row
-- activity batch into 30 seconds of CPU.
CREATE OR REPLACE FUNCTION sessiongw_sessions_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    hs bytea[];
BEGIN
    -- Activity alone (last_activity_at, last_ip_address) and a later expiry
    -- (rolling expiry) do not make a cached copy unsafe.
    EXECUTE $q$
        SELECT coalesce(array_agg(o.token_hash), '{}') FROM old_rows o JOIN new_rows n ON n.public_id = o.public_id
        WHERE (o.token_hash, o.user_id, o.ip_address, o.user_agent, o.remember_me, o.new_device,
               o.kind, o.name, o.token_roles, o.authenticated_at, o.amr)
              IS DISTINCT FROM
              (n.token_hash, n.user_id, n.ip_address, n.user_agent, n.remember_me, n.new_device,
               n.kind, n.name, n.token_roles, n.authenticated_at, n.amr)
           OR n.expires_at < o.expires_at$q$ INTO hs;
    PERFORM sessiongw_outbox_add(TG_TABLE_SCHEMA, hs);
    RETURN NULL;
END $$;
