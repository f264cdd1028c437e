-- itsp store, PostgreSQL: postpaid invoices. Keep in step with ../sqlite/0015_invoices.sql.
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
    series      TEXT   PRIMARY KEY,
    last_number BIGINT NOT NULL
);

CREATE TABLE invoices (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          TEXT    NOT NULL UNIQUE,
    series          TEXT    NOT NULL,
    sequence        BIGINT  NOT NULL,
    subscriber_id   BIGINT  REFERENCES subscribers (id) ON DELETE SET NULL,
    username        TEXT    NOT NULL,
    domain          TEXT    NOT NULL,
    period_start_ms BIGINT  NOT NULL,
    period_end_ms   BIGINT  NOT NULL CHECK (period_end_ms > period_start_ms),
    currency        TEXT    NOT NULL,
    subtotal        TEXT    NOT NULL,
    tax_rate        TEXT    NOT NULL,
    tax             TEXT    NOT NULL,
    total           TEXT    NOT NULL,
    issued_ms       BIGINT  NOT NULL,
    html            TEXT    NOT NULL,
    pdf             BYTEA   NOT NULL,
    UNIQUE (series, sequence),
    UNIQUE (username, domain, period_start_ms)
);

CREATE INDEX invoices_by_customer ON invoices (username, domain, period_start_ms);

CREATE TABLE invoice_lines (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id  BIGINT  NOT NULL REFERENCES invoices (id),
    position    BIGINT  NOT NULL,
    destination TEXT    NOT NULL,
    prefix      TEXT    NOT NULL,
    calls       BIGINT  NOT NULL CHECK (calls >= 0),
    seconds     BIGINT  NOT NULL CHECK (seconds >= 0),
    amount      TEXT    NOT NULL,
    UNIQUE (invoice_id, position)
);

CREATE FUNCTION refuse_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'an issued invoice cannot be changed or deleted';
END;
$$;

CREATE TRIGGER invoices_are_final_on_update
    BEFORE UPDATE OF id, number, series, sequence, username, domain, period_start_ms,
                     period_end_ms, currency, subtotal, tax_rate, tax, total, issued_ms, html, pdf
    ON invoices FOR EACH ROW EXECUTE FUNCTION refuse_invoice_change();

CREATE TRIGGER invoices_are_final_on_delete
    BEFORE DELETE ON invoices FOR EACH ROW EXECUTE FUNCTION refuse_invoice_change();

CREATE TRIGGER invoices_are_final_on_truncate
    BEFORE TRUNCATE ON invoices FOR EACH STATEMENT EXECUTE FUNCTION refuse_invoice_change();

CREATE TRIGGER invoice_lines_are_final
    BEFORE UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION refuse_invoice_change();

CREATE TRIGGER invoice_lines_are_final_on_truncate
    BEFORE TRUNCATE ON invoice_lines FOR EACH STATEMENT EXECUTE FUNCTION refuse_invoice_change();
