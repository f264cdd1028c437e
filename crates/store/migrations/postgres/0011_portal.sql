-- itsp store, PostgreSQL: the web portal's logins and the REST API's tokens. Keep in step
-- with ../sqlite/0011_portal.sql.
--
-- A web password is apart from the SIP password: an argon2id PHC string here, digest HA1
-- values in `subscribers`. Tokens and sessions are stored as the SHA-256 of their secret,
-- so a copy of the database lets nobody in. None of these tables is counted in
-- `table_versions`: the SIP server does not read them.

-- One row per subscriber who may use the portal: the web password (NULL: none set yet)
-- and whether the subscriber administers the whole provider.
CREATE TABLE web_accounts (
    subscriber_id BIGINT  NOT NULL PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
    password_hash TEXT,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at    BIGINT  NOT NULL
);

-- Browser sessions: the cookie's secret hashed, the form token (CSRF) of the session.
CREATE TABLE web_sessions (
    secret_hash   TEXT   NOT NULL PRIMARY KEY,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    csrf_token    TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);

-- Bearer tokens of the REST API (`itsp token create`): an admin token has no subscriber.
CREATE TABLE api_tokens (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT   NOT NULL,
    secret_hash   TEXT   NOT NULL UNIQUE,
    subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
