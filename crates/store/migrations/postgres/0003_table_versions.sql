-- itsp store, PostgreSQL: change counters. Keep in step with ../sqlite/0003_table_versions.sql.
--
-- A table's version goes up by one for every row inserted, updated or deleted in it, by
-- triggers, whoever the writer is (`itsp user passwd` in another process, the portal, another
-- node). A server that caches what it read from the table (the digest HA1 values) asks for
-- the version now and then and drops its cache when it has changed. The bump is part of the
-- writer's transaction, so a reader sees the new rows and the new version together.

CREATE TABLE table_versions (
    name    TEXT    NOT NULL PRIMARY KEY,
    version BIGINT  NOT NULL
);

INSERT INTO table_versions (name, version) VALUES ('subscribers', 0);

CREATE FUNCTION bump_subscribers_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'subscribers';
    RETURN NULL;
END;
$$;

-- One trigger per row, as SQLite has only row triggers: the same count on both backends.
CREATE TRIGGER subscribers_version_on_change
    AFTER INSERT OR UPDATE OR DELETE ON subscribers
    FOR EACH ROW EXECUTE FUNCTION bump_subscribers_version();

-- TRUNCATE fires no row triggers (SQLite has no TRUNCATE).
CREATE TRIGGER subscribers_version_on_truncate
    AFTER TRUNCATE ON subscribers
    FOR EACH STATEMENT EXECUTE FUNCTION bump_subscribers_version();
