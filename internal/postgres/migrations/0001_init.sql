-- Users are the application's own users, keyed by the application's id.
CREATE TABLE users (
    id          bigint PRIMARY KEY,
    username    text NOT NULL,
    email       text NOT NULL DEFAULT '',
    is_active   boolean NOT NULL DEFAULT true,
    roles       text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A session is keyed by the SHA-256 of its token; the token itself is never
-- stored. public_id is a random, non-secret handle for listings and logs.
CREATE TABLE sessions (
    token_hash        bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    public_id         uuid NOT NULL UNIQUE,
    user_id           bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    last_activity_at  timestamptz NOT NULL,
    ip_address        text NOT NULL DEFAULT '',
    user_agent        text NOT NULL DEFAULT '',
    remember_me       boolean NOT NULL DEFAULT false
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
