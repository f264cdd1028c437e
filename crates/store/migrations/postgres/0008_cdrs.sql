-- itsp store, PostgreSQL: call detail records. Keep in step with
-- ../sqlite/0008_cdrs.sql. Times are Unix milliseconds (`*_ms`).
--
-- One row per call attempt, written when it ends: answered and hung up, busy, not
-- answered, cancelled, failed, refused by the proxy, or closed by the proxy (a restart of
-- the node that handled it). Append-only: what billing rates, the missed calls of a
-- callee, and the CDR export. The raw `acc` events stay beside it for audit.
CREATE TABLE cdrs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id        TEXT    NOT NULL,
    from_tag       TEXT    NOT NULL,
    to_tag         TEXT,
    caller_user    TEXT,
    caller_domain  TEXT,
    caller_uri     TEXT    NOT NULL,
    source_ip      TEXT,
    dialled_uri    TEXT    NOT NULL,
    callee_user    TEXT,
    callee_domain  TEXT,
    answered_by    TEXT,
    start_ms       BIGINT  NOT NULL,
    answer_ms      BIGINT,
    end_ms         BIGINT  NOT NULL,
    billable_secs  BIGINT  NOT NULL,
    disposition    TEXT    NOT NULL CHECK (disposition = 'answered' OR disposition = 'busy'
                                           OR disposition = 'no_answer' OR disposition = 'cancelled'
                                           OR disposition = 'failed' OR disposition = 'refused'
                                           OR disposition = 'credit_exhausted'),
    code           BIGINT  NOT NULL,
    reason         TEXT,
    hung_up_by     TEXT    CHECK (hung_up_by = 'caller' OR hung_up_by = 'callee' OR hung_up_by = 'proxy'),
    end_reason     TEXT,
    node           TEXT    NOT NULL
);
CREATE INDEX cdrs_start ON cdrs (start_ms);
CREATE INDEX cdrs_call_id ON cdrs (call_id);
CREATE INDEX cdrs_caller ON cdrs (caller_user, caller_domain, start_ms);
CREATE INDEX cdrs_callee ON cdrs (callee_user, callee_domain, start_ms);
