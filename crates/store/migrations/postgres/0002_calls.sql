-- itsp store, PostgreSQL: accounting, live calls, subscriber preferences. Keep in step with
-- ../sqlite/0002_calls.sql. Times here are Unix milliseconds (`*_ms`).

-- Accounting events of the proxy (Kamailio's `acc` table): one row per request, answer,
-- failure or end of a call. Append-only; `id` orders rows of the same millisecond.
CREATE TABLE acc (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time_ms       BIGINT  NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('request', 'answered', 'failed', 'ended')),
    method        TEXT    NOT NULL,
    call_id       TEXT    NOT NULL,
    from_tag      TEXT    NOT NULL,
    to_tag        TEXT,
    code          BIGINT,
    reason        TEXT,
    caller_user   TEXT,
    caller_domain TEXT,
    callee_user   TEXT,
    callee_domain TEXT,
    source_ip     TEXT,
    ended_by      TEXT    CHECK (ended_by IN ('caller', 'callee', 'proxy'))
);
CREATE INDEX acc_time ON acc (time_ms);
CREATE INDEX acc_call_id ON acc (call_id);
CREATE INDEX acc_caller ON acc (caller_user, caller_domain);
CREATE INDEX acc_callee ON acc (callee_user, callee_domain);

-- Dialogs in progress, written by the proxy node that handles them (`node`).
CREATE TABLE calls (
    call_id     TEXT    NOT NULL,
    from_tag    TEXT    NOT NULL,
    to_tag      TEXT,
    state       TEXT    NOT NULL CHECK (state IN ('early', 'confirmed')),
    caller      TEXT    NOT NULL,
    callee      TEXT    NOT NULL,
    source_ip   TEXT,
    started_ms  BIGINT  NOT NULL,
    answered_ms BIGINT,
    node        TEXT    NOT NULL,
    UNIQUE (call_id, from_tag)
);
CREATE INDEX calls_node ON calls (node);

-- Per-subscriber settings by name (Kamailio's `usr_preferences`): call forwarding now,
-- voicemail and prepaid settings later. The store validates names and values.
CREATE TABLE preferences (
    subscriber_id BIGINT  NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    UNIQUE (subscriber_id, name)
);
