-- itsp store, PostgreSQL: banned source networks. Keep in step with ../sqlite/0006_bans.sql.
--
-- A row bans every request from `network` (an address, or address/prefix) until `until_ms`
-- (Unix milliseconds; NULL: until removed). The server writes the bans it decides itself
-- (`automatic`: too many failed authentications); `itsp ban add` writes manual ones. A
-- server reads the table again when its change counter moves, so `itsp ban add|rm` takes
-- effect while it runs (on every node sharing the database).

CREATE TABLE bans (
    network    TEXT    NOT NULL PRIMARY KEY,
    until_ms   BIGINT,
    reason     TEXT    NOT NULL,
    automatic  BOOLEAN NOT NULL,
    created_ms BIGINT  NOT NULL
);

INSERT INTO table_versions (name, version) VALUES ('bans', 0);

CREATE FUNCTION bump_bans_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'bans';
    RETURN NULL;
END;
$$;

-- One trigger per row, as in 0003: the same count on both backends.
CREATE TRIGGER bans_version_on_change
    AFTER INSERT OR UPDATE OR DELETE ON bans
    FOR EACH ROW EXECUTE FUNCTION bump_bans_version();

-- TRUNCATE fires no row triggers (SQLite has no TRUNCATE).
CREATE TRIGGER bans_version_on_truncate
    AFTER TRUNCATE ON bans
    FOR EACH STATEMENT EXECUTE FUNCTION bump_bans_version();
