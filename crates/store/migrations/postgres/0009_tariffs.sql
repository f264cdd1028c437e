-- itsp store, PostgreSQL: the tariff files imported with `itsp rate import`. Keep in
-- step with ../sqlite/0009_tariffs.sql.
--
-- Kept as the text the operator gave (a native CSV, or the six CGRateS files), each set
-- under its key (the plan's name for a native file, `cgrates` for a CGRateS set): rating
-- parses them again when it loads, so what is stored is always what was checked at import.
-- An import replaces the set under its key, all or nothing.
CREATE TABLE tariff_files (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    set_key     TEXT    NOT NULL,
    format      TEXT    NOT NULL CHECK (format = 'native' OR format = 'cgrates'),
    name        TEXT    NOT NULL,
    content     TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    utc_offset  BIGINT NOT NULL,
    imported_ms BIGINT NOT NULL
);
CREATE INDEX tariff_files_set ON tariff_files (set_key);
