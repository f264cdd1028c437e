-- itsp store, SQLite: conference rooms with a PIN. Keep in step with
-- ../postgres/0022_conference_rooms.sql.
--
-- A room of a served domain that `itsp conf add` configured: its name (what callers dial
-- after the conference prefix, `conf-NAME`) and an optional PIN (digits) that callers
-- type before they join. Rooms not listed here still open on demand, without a PIN.
CREATE TABLE conference_rooms (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    domain      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    pin         TEXT,
    created_ms  INTEGER NOT NULL,
    UNIQUE (domain, name)
);
