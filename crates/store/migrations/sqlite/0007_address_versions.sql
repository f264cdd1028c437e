-- itsp store, SQLite: change counters of who can be reached by which name, and of group
-- membership. Keep in step with ../postgres/0007_address_versions.sql.
--
-- `addresses` moves with every change of the subscribers or of their aliases (what
-- `Store::resolve` answers depends on both); `groups` with every change of group
-- membership (what `Store::in_group` answers), also the rows deleted with their subscriber
-- (ON DELETE CASCADE fires these triggers). A server that keeps those answers in memory
-- asks for the counters now and then and drops what it keeps when one has moved, so a call
-- to an unknown user or to a number costs no query each time.

INSERT INTO table_versions (name, version) VALUES ('addresses', 0);
INSERT INTO table_versions (name, version) VALUES ('groups', 0);

CREATE TRIGGER addresses_version_on_subscriber_insert AFTER INSERT ON subscribers
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'addresses';
END;

CREATE TRIGGER addresses_version_on_subscriber_update AFTER UPDATE ON subscribers
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'addresses';
END;

CREATE TRIGGER addresses_version_on_subscriber_delete AFTER DELETE ON subscribers
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'addresses';
END;

CREATE TRIGGER addresses_version_on_alias_insert AFTER INSERT ON aliases
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'addresses';
END;

CREATE TRIGGER addresses_version_on_alias_update AFTER UPDATE ON aliases
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'addresses';
END;

CREATE TRIGGER addresses_version_on_alias_delete AFTER DELETE ON aliases
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'addresses';
END;

CREATE TRIGGER groups_version_on_insert AFTER INSERT ON groups
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'groups';
END;

CREATE TRIGGER groups_version_on_update AFTER UPDATE ON groups
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'groups';
END;

CREATE TRIGGER groups_version_on_delete AFTER DELETE ON groups
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'groups';
END;
