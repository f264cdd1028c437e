-- itsp store, PostgreSQL: a change counter of who pays how. Keep in step with
-- ../sqlite/0014_accounts_version.sql.
--
-- `accounts` moves when an account is made, removed, or changes its kind or plan, not with
-- its balance (every ledger entry updates the cached balance): a server keeps the kind and
-- plan of every account in memory (which calls need a prepaid authorisation) and reads
-- them again when the counter has moved. The bump is part of the writer's transaction.

INSERT INTO table_versions (name, version) VALUES ('accounts', 0);

CREATE FUNCTION bump_accounts_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE table_versions SET version = version + 1 WHERE name = 'accounts';
    RETURN NULL;
END;
$$;

CREATE TRIGGER accounts_version_on_insert_or_delete
    AFTER INSERT OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION bump_accounts_version();

CREATE TRIGGER accounts_version_on_terms
    AFTER UPDATE OF kind, plan ON accounts
    FOR EACH ROW EXECUTE FUNCTION bump_accounts_version();

CREATE TRIGGER accounts_version_on_truncate
    AFTER TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION bump_accounts_version();
