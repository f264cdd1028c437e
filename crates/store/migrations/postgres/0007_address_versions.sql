-- itsp store, PostgreSQL: change counters of who can be reached by which name, and of
-- group membership. Keep in step with ../sqlite/0007_address_versions.sql.
--
-- `addresses` moves with every change of the subscribers or of their aliases (what
-- `Store::resolve` answers depends on both); `groups` with every change of group
-- membership (what `Store::in_group` answers), also the rows deleted with their subscriber
-- (ON DELETE CASCADE fires these triggers). The bump is part of the writer's transaction.

INSERT INTO table_versions (name, version) VALUES ('addresses', 0);
INSERT INTO table_versions (name, version) VALUES ('groups', 0);

CREATE FUNCTION bump_addresses_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'addresses';
    RETURN NULL;
END;
$$;

CREATE FUNCTION bump_groups_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'groups';
    RETURN NULL;
END;
$$;

-- One trigger per row, as in 0003: the same count on both backends.
CREATE TRIGGER addresses_version_on_subscriber_change
    AFTER INSERT OR UPDATE OR DELETE ON subscribers
    FOR EACH ROW EXECUTE FUNCTION bump_addresses_version();

CREATE TRIGGER addresses_version_on_alias_change
    AFTER INSERT OR UPDATE OR DELETE ON aliases
    FOR EACH ROW EXECUTE FUNCTION bump_addresses_version();

CREATE TRIGGER groups_version_on_change
    AFTER INSERT OR UPDATE OR DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION bump_groups_version();

-- TRUNCATE fires no row triggers (SQLite has no TRUNCATE).
CREATE TRIGGER addresses_version_on_subscriber_truncate
    AFTER TRUNCATE ON subscribers
    FOR EACH STATEMENT EXECUTE FUNCTION bump_addresses_version();

CREATE TRIGGER addresses_version_on_alias_truncate
    AFTER TRUNCATE ON aliases
    FOR EACH STATEMENT EXECUTE FUNCTION bump_addresses_version();

CREATE TRIGGER groups_version_on_truncate
    AFTER TRUNCATE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION bump_groups_version();
