-- itsp store, SQLite: a change counter of who pays how. Keep in step with
-- ../postgres/0014_accounts_version.sql.
--
-- `accounts` moves when an account is made, removed, or changes its kind or plan, not with
-- its balance (every ledger entry updates the cached balance): a server keeps the kind and
-- plan of every account in memory (which calls need a prepaid authorisation) and reads
-- them again when the counter has moved.

INSERT INTO table_versions (name, version) VALUES ('accounts', 0);

CREATE TRIGGER accounts_version_on_insert AFTER INSERT ON accounts
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'accounts';
END;

CREATE TRIGGER accounts_version_on_terms AFTER UPDATE OF kind, plan ON accounts
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'accounts';
END;

CREATE TRIGGER accounts_version_on_delete AFTER DELETE ON accounts
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'accounts';
END;
