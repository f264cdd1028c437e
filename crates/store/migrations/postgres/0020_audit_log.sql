-- itsp store, PostgreSQL: the portal's audit log and disabled subscribers. Keep in step
-- with ../sqlite/0020_audit_log.sql.
--
-- `audit_log`: one row per change an admin made through the portal (API or pages):
-- when (Unix milliseconds), who (`actor`: the admin's address, or `token N` for an
-- admin token), from where (`source`: the client's IP address as the portal judged it),
-- what (`action`: method and path; `detail`: the fields sent, secrets left out) and the
-- answer's status. Append-only; read newest first by id. Not counted in
-- `table_versions`: the SIP server does not read it.
CREATE TABLE audit_log (
    id      BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms   BIGINT  NOT NULL,
    actor   TEXT    NOT NULL,
    source  TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    status  BIGINT  NOT NULL,
    detail  TEXT
);
CREATE INDEX audit_log_at ON audit_log (at_ms);
CREATE INDEX audit_log_actor ON audit_log (actor, id);

-- A disabled subscriber keeps everything but cannot authenticate: neither over SIP (no
-- credentials are found, so it is answered as an unknown user) nor in the portal. The
-- update bumps the `subscribers` counter, so the server's credential cache forgets it.
ALTER TABLE subscribers ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
