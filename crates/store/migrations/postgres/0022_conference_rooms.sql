-- itsp store, PostgreSQL: conference rooms with a PIN. Keep in step with
-- ../sqlite/0022_conference_rooms.sql.
--
-- A room of a served domain that `itsp conf add` configured: its name (what callers dial
-- after the conference prefix, `conf-NAME`) and an optional PIN (digits) that callers
-- type before they join. Rooms not listed here still open on demand, without a PIN.
CREATE TABLE conference_rooms (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    pin         TEXT,
    created_ms  BIGINT  NOT NULL,
    UNIQUE (domain, name)
);
