-- Identity values reach upstream apps as HTTP headers and are read by
-- people: usernames are unique regardless of case ("Admin" is "admin"), and
-- no username, email or role holds a control character (which proxies
-- reject or fold). The gateway also refuses surrounding whitespace and
-- invisible formatting characters and stores NFC; the database enforces what
-- SQL can state, so writers with plain SQL are held to it too.
--
-- Rows written before these rules that break them stop the migration with a
-- list of the users to fix (rename or clean them with plain SQL, then start
-- the gateway or run `sessiongw migrate` again): nothing is changed silently.
DO $$
DECLARE
    conflicts text;
    bad text;
BEGIN
    SELECT string_agg(format('%L (user ids %s)', name, ids), '; ') INTO conflicts FROM (
        SELECT lower(username) AS name, string_agg(id, ', ' ORDER BY id) AS ids
        FROM users GROUP BY lower(username) HAVING count(*) > 1 ORDER BY 1 LIMIT 50) c;
    IF conflicts IS NOT NULL THEN
        RAISE EXCEPTION 'sessiongw: usernames must now be unique regardless of case; rename one user of each pair first: %', conflicts;
    END IF;
    SELECT string_agg(id, ', ') INTO bad FROM (
        SELECT id FROM users
        WHERE username ~ '[[:cntrl:]]' OR email ~ '[[:cntrl:]]' OR array_to_string(roles, ' ') ~ '[[:cntrl:]]'
        ORDER BY id LIMIT 50) b;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'sessiongw: these users have control characters in their username, email or roles; fix them first: %', bad;
    END IF;
END $$;

CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
ALTER TABLE users ADD CONSTRAINT users_identity_no_control CHECK (
    username !~ '[[:cntrl:]]' AND email !~ '[[:cntrl:]]' AND array_to_string(roles, ' ') !~ '[[:cntrl:]]');
