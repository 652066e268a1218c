-- User ids become opaque strings of 1-128 characters of A-Z a-z 0-9 - _ . :
-- @ | + (integers, UUIDs, identity-provider subjects such as "auth0|5f7c…").
-- Existing integer ids keep their decimal form, which is also the form the
-- audit chain hashed them in, so the chain verifies unchanged.
ALTER TABLE sessions DROP CONSTRAINT sessions_user_id_fkey;
ALTER TABLE user_devices DROP CONSTRAINT user_devices_user_id_fkey;

ALTER TABLE users ALTER COLUMN id TYPE text USING id::text;
ALTER TABLE sessions ALTER COLUMN user_id TYPE text USING user_id::text;
ALTER TABLE user_devices ALTER COLUMN user_id TYPE text USING user_id::text;
ALTER TABLE audit_log ALTER COLUMN user_id TYPE text USING user_id::text;

ALTER TABLE sessions ADD CONSTRAINT sessions_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE user_devices ADD CONSTRAINT user_devices_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE users ADD CONSTRAINT users_id_format CHECK (id ~ '^[A-Za-z0-9._:@|+-]{1,128}$');
