-- itsp store, SQLite. Keep in step with ../postgres/0001_initial.sql: the same tables,
-- columns, keys and constraints; integers are 64-bit INTEGER here, BIGINT there.
-- Times are Unix seconds. Passwords are never stored: only digest HA1 values.

CREATE TABLE domains (
    name       TEXT    NOT NULL PRIMARY KEY,
    created_at INTEGER NOT NULL
);

CREATE TABLE subscribers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    username    TEXT    NOT NULL,
    domain      TEXT    NOT NULL REFERENCES domains (name),
    ha1_md5     TEXT    NOT NULL,
    ha1b_md5    TEXT    NOT NULL,
    ha1_sha256  TEXT    NOT NULL,
    ha1b_sha256 TEXT    NOT NULL,
    email       TEXT,
    created_at  INTEGER NOT NULL,
    UNIQUE (username, domain)
);
CREATE INDEX subscribers_domain ON subscribers (domain);

CREATE TABLE aliases (
    alias_user    TEXT    NOT NULL,
    alias_domain  TEXT    NOT NULL REFERENCES domains (name),
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    UNIQUE (alias_user, alias_domain)
);
CREATE INDEX aliases_subscriber ON aliases (subscriber_id);

CREATE TABLE groups (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    UNIQUE (subscriber_id, name)
);

CREATE TABLE locations (
    aor          TEXT    NOT NULL,
    contact      TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL,
    q            INTEGER NOT NULL,
    call_id      TEXT    NOT NULL,
    cseq         INTEGER NOT NULL,
    user_agent   TEXT    NOT NULL,
    received     TEXT    NOT NULL,
    transport    TEXT    NOT NULL,
    local_socket TEXT    NOT NULL,
    path         TEXT,
    instance     TEXT,
    reg_id       INTEGER,
    flags        INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (aor, contact)
);
CREATE INDEX locations_expires_at ON locations (expires_at);
