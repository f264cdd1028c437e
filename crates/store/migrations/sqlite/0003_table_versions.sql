-- itsp store, SQLite: change counters. Keep in step with ../postgres/0003_table_versions.sql.
--
-- A table's version goes up by one for every row inserted, updated or deleted in it, by
-- triggers, whoever the writer is (`itsp user passwd` in another process, the portal, another
-- node). A server that caches what it read from the table (the digest HA1 values) asks for
-- the version now and then and drops its cache when it has changed.

CREATE TABLE table_versions (
    name    TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL
);

INSERT INTO table_versions (name, version) VALUES ('subscribers', 0);

CREATE TRIGGER subscribers_version_on_insert AFTER INSERT ON subscribers
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'subscribers';
END;

CREATE TRIGGER subscribers_version_on_update AFTER UPDATE ON subscribers
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'subscribers';
END;

CREATE TRIGGER subscribers_version_on_delete AFTER DELETE ON subscribers
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'subscribers';
END;
