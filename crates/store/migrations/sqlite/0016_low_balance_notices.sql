-- itsp store, SQLite: the state of the low-balance notices. Keep in step with
-- ../postgres/0016_low_balance_notices.sql.
--
-- A notice is sent once per crossing: when an account's balance falls below its
-- `low_balance`, then not again until the balance has been at or above it. Balances are
-- decimal text, compared in Rust, not in SQL, so the store looks only at the accounts
-- that moved since it last looked: `low_checked` is the `last_entry` it judged (-1 when
-- the threshold changed: judge again), `low_notified` is 1 from the notice's claim until
-- the balance is back at or above the threshold. A claim is one conditional UPDATE, so
-- of two nodes, or a node before and after a restart, only one sends.

ALTER TABLE accounts ADD COLUMN low_notified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN low_checked INTEGER NOT NULL DEFAULT 0;

-- Only the accounts waiting to be judged: the periodic look is a scan of this index.
CREATE INDEX accounts_low_pending ON accounts (id)
    WHERE low_balance IS NOT NULL AND last_entry <> low_checked;
