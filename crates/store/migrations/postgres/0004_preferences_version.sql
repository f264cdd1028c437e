-- itsp store, PostgreSQL: a change counter of the preferences. Keep in step with
-- ../sqlite/0004_preferences_version.sql.
--
-- Like the subscribers' counter of 0003: every row inserted, updated or deleted in
-- `preferences` bumps it, whoever the writer is (`itsp user set` in another process, the
-- portal, another node), also the rows deleted with their subscriber (ON DELETE CASCADE
-- fires these triggers). A server that keeps the subscribers' call forwarding in memory asks
-- for it now and then and drops what it keeps when it has moved. The bump is part of the
-- writer's transaction.

INSERT INTO table_versions (name, version) VALUES ('preferences', 0);

CREATE FUNCTION bump_preferences_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'preferences';
    RETURN NULL;
END;
$$;

-- One trigger per row, as in 0003: the same count on both backends.
CREATE TRIGGER preferences_version_on_change
    AFTER INSERT OR UPDATE OR DELETE ON preferences
    FOR EACH ROW EXECUTE FUNCTION bump_preferences_version();

-- TRUNCATE fires no row triggers (SQLite has no TRUNCATE).
CREATE TRIGGER preferences_version_on_truncate
    AFTER TRUNCATE ON preferences
    FOR EACH STATEMENT EXECUTE FUNCTION bump_preferences_version();
