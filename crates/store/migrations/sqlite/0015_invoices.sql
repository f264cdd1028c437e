-- itsp store, SQLite: postpaid invoices. Keep in step with ../postgres/0015_invoices.sql.
-- Times are Unix milliseconds (`*_ms`).
--
-- One invoice per postpaid account and billing period, issued by `itsp invoice run`:
-- numbered `YYYY-MM-NNNN` in the series of its month, without gaps (`invoice_series` holds
-- each series' last number, taken in the issuing transaction, so a rolled-back issue gives
-- its number back), with its lines by destination, its amounts as exact decimal text
-- (never floats), and the HTML and PDF documents as issued. Issued is final: the triggers
-- refuse to change or delete an invoice or its lines. The customer is kept as invoiced
-- (user and domain); `subscriber_id` follows the subscriber while it exists and is
-- cleared when it is removed, the invoice staying.

CREATE TABLE invoice_series (
    series      TEXT    PRIMARY KEY,
    last_number INTEGER NOT NULL
);

CREATE TABLE invoices (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    number          TEXT    NOT NULL UNIQUE,
    series          TEXT    NOT NULL,
    sequence        INTEGER NOT NULL,
    subscriber_id   INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    username        TEXT    NOT NULL,
    domain          TEXT    NOT NULL,
    period_start_ms INTEGER NOT NULL,
    period_end_ms   INTEGER NOT NULL CHECK (period_end_ms > period_start_ms),
    currency        TEXT    NOT NULL,
    subtotal        TEXT    NOT NULL,
    tax_rate        TEXT    NOT NULL,
    tax             TEXT    NOT NULL,
    total           TEXT    NOT NULL,
    issued_ms       INTEGER NOT NULL,
    html            TEXT    NOT NULL,
    pdf             BLOB    NOT NULL,
    UNIQUE (series, sequence),
    UNIQUE (username, domain, period_start_ms)
);

CREATE INDEX invoices_by_customer ON invoices (username, domain, period_start_ms);

CREATE TABLE invoice_lines (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id  INTEGER NOT NULL REFERENCES invoices (id),
    position    INTEGER NOT NULL,
    destination TEXT    NOT NULL,
    prefix      TEXT    NOT NULL,
    calls       INTEGER NOT NULL CHECK (calls >= 0),
    seconds     INTEGER NOT NULL CHECK (seconds >= 0),
    amount      TEXT    NOT NULL,
    UNIQUE (invoice_id, position)
);

CREATE TRIGGER invoices_are_final_on_update
BEFORE UPDATE OF id, number, series, sequence, username, domain, period_start_ms,
                 period_end_ms, currency, subtotal, tax_rate, tax, total, issued_ms, html, pdf
ON invoices
BEGIN
    SELECT RAISE(ABORT, 'an issued invoice cannot be changed');
END;

CREATE TRIGGER invoices_are_final_on_delete BEFORE DELETE ON invoices
BEGIN
    SELECT RAISE(ABORT, 'an issued invoice cannot be deleted');
END;

CREATE TRIGGER invoice_lines_are_final_on_update BEFORE UPDATE ON invoice_lines
BEGIN
    SELECT RAISE(ABORT, 'an issued invoice cannot be changed');
END;

CREATE TRIGGER invoice_lines_are_final_on_delete BEFORE DELETE ON invoice_lines
BEGIN
    SELECT RAISE(ABORT, 'an issued invoice cannot be deleted');
END;
