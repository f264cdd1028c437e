-- itsp store, SQLite: self-registration. Keep in step with
-- ../postgres/0021_self_registration.sql.
--
-- `domains.self_registration`: whether visitors may create their own account in the
-- domain through the portal (`itsp domain set DOMAIN self-registration=on`; off by
-- default).
--
-- `signups`: an account asked for and not yet confirmed. The portal e-mails a random
-- secret as a link, stored as its SHA-256 (like sessions, tokens and password resets),
-- valid until `expires_ms` and once (`used_ms`). The web password is kept only as its
-- argon2id hash; no subscriber exists until the link is followed, so an unconfirmed
-- sign-up holds no name: of two sign-ups for one name, the first confirmed wins. Times
-- are Unix milliseconds. Not counted in `table_versions`: the SIP server does not read it.
ALTER TABLE domains ADD COLUMN self_registration INTEGER NOT NULL DEFAULT 0
    CHECK (self_registration IN (0, 1));

CREATE TABLE signups (
    token_hash    TEXT    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL,
    domain        TEXT    NOT NULL REFERENCES domains (name) ON DELETE CASCADE,
    email         TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL,
    used_ms       INTEGER
);
CREATE INDEX signups_expires ON signups (expires_ms);
CREATE INDEX signups_email ON signups (email, created_ms);
