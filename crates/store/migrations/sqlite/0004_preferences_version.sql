-- itsp store, SQLite: a change counter of the preferences. Keep in step with
-- ../postgres/0004_preferences_version.sql.
--
-- Like the subscribers' counter of 0003: every row inserted, updated or deleted in
-- `preferences` bumps it, whoever the writer is (`itsp user set` in another process, the
-- portal), also the rows deleted with their subscriber (ON DELETE CASCADE fires these
-- triggers). A server that keeps the subscribers' call forwarding in memory asks for it now
-- and then and drops what it keeps when it has moved.

INSERT INTO table_versions (name, version) VALUES ('preferences', 0);

CREATE TRIGGER preferences_version_on_insert AFTER INSERT ON preferences
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'preferences';
END;

CREATE TRIGGER preferences_version_on_update AFTER UPDATE ON preferences
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'preferences';
END;

CREATE TRIGGER preferences_version_on_delete AFTER DELETE ON preferences
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'preferences';
END;
