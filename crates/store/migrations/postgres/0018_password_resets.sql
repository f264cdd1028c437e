-- itsp store, PostgreSQL: forgotten web passwords. Keep in step with
-- ../sqlite/0018_password_resets.sql.
--
-- A reset is a random secret e-mailed to the subscriber as a link, stored as its SHA-256
-- (like the portal's sessions and tokens), valid until `expires_ms` and once: redeeming it
-- sets `used_ms`, and so does a redeemed sibling to every other open reset of the
-- subscriber. Times are Unix milliseconds. Not counted in `table_versions`: the SIP server
-- does not read it.
CREATE TABLE password_resets (
    token_hash    TEXT    NOT NULL PRIMARY KEY,
    subscriber_id BIGINT  NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    created_ms    BIGINT  NOT NULL,
    expires_ms    BIGINT  NOT NULL,
    used_ms       BIGINT
);
CREATE INDEX password_resets_subscriber ON password_resets (subscriber_id, created_ms);
