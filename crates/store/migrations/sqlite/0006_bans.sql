-- itsp store, SQLite: banned source networks. Keep in step with ../postgres/0006_bans.sql.
--
-- A row bans every request from `network` (an address, or address/prefix) until `until_ms`
-- (Unix milliseconds; NULL: until removed). The server writes the bans it decides itself
-- (`automatic` = 1: too many failed authentications); `itsp ban add` writes manual ones.
-- A server reads the table again when its change counter moves, so `itsp ban add|rm` takes
-- effect while it runs.

CREATE TABLE bans (
    network    TEXT    NOT NULL PRIMARY KEY,
    until_ms   INTEGER,
    reason     TEXT    NOT NULL,
    automatic  BOOLEAN NOT NULL,
    created_ms INTEGER NOT NULL
);

INSERT INTO table_versions (name, version) VALUES ('bans', 0);

CREATE TRIGGER bans_version_on_insert AFTER INSERT ON bans
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'bans';
END;

CREATE TRIGGER bans_version_on_update AFTER UPDATE ON bans
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'bans';
END;

CREATE TRIGGER bans_version_on_delete AFTER DELETE ON bans
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'bans';
END;
