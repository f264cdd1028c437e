-- itsp store, PostgreSQL: accounts and their ledger. Keep in step with
-- ../sqlite/0013_accounts.sql. Times are Unix milliseconds (`*_ms`).
--
-- A subscriber has at most one account, prepaid or postpaid (none: calls are free), in one
-- currency, rated with a plan (none: the default rules). Money is an exact decimal
-- written as text, never a float, and never added up in SQL: the store sums in Rust.
-- The ledger is append-only: top-ups, adjustments, the slices a prepaid call takes and
-- its settlement, the charges of postpaid calls, each with the balance after it.
-- `accounts.balance` caches the sum of the account's ledger amounts and `last_entry` is
-- the id of its newest entry; both change only with an entry, in its transaction.
-- Deleted with the subscriber, as its preferences and voicemail are; the ledger goes with
-- its account.

CREATE TABLE accounts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id BIGINT  NOT NULL UNIQUE REFERENCES subscribers (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind = 'prepaid' OR kind = 'postpaid'),
    plan          TEXT,
    currency      TEXT    NOT NULL,
    balance       TEXT    NOT NULL,
    low_balance   TEXT,
    last_entry    BIGINT  NOT NULL,
    created_ms    BIGINT  NOT NULL
);

CREATE TABLE ledger (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at_ms         BIGINT  NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind = 'top_up' OR kind = 'adjustment' OR kind = 'debit'
                                          OR kind = 'settlement' OR kind = 'charge'),
    amount        TEXT    NOT NULL,
    call_id       TEXT,
    note          TEXT,
    balance_after TEXT    NOT NULL
);

CREATE INDEX ledger_by_account ON ledger (account_id, id);
CREATE INDEX ledger_call_id ON ledger (call_id);
