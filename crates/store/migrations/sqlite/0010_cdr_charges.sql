-- itsp store, SQLite: what a call cost, on its record. Keep in step with
-- ../postgres/0010_cdr_charges.sql.
--
-- Written with the record, in the same transaction, by the server that rated it: the
-- plan that priced it, the exact decimal amount as text (never a float), and its
-- currency. Empty for a call that was not rated (free, on-net, no plan, no destination).
ALTER TABLE cdrs ADD COLUMN rate_plan TEXT;
ALTER TABLE cdrs ADD COLUMN cost TEXT;
ALTER TABLE cdrs ADD COLUMN currency TEXT;
