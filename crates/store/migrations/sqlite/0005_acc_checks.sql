-- itsp store, SQLite: the `acc` table again, with its CHECK constraints written as
-- comparisons. Keep in step with ../postgres/0005_acc_checks.sql.
--
-- SQLite evaluates `x IN ('a', 'b', 'c')` by building a temporary b-tree of the list, and a
-- CHECK runs for every row: the two of 0002 built two temporary tables per accounting row,
-- a third of the cost of each insert. `x = 'a' OR x = 'b' ...` allows the same values and
-- compares in place. A CHECK cannot be altered in SQLite, so the table is rebuilt (ids,
-- rows and the AUTOINCREMENT counter kept) and its indexes made again.

CREATE TABLE acc_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms       INTEGER NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind = 'request' OR kind = 'answered'
                                          OR kind = 'failed' OR kind = 'ended'),
    method        TEXT    NOT NULL,
    call_id       TEXT    NOT NULL,
    from_tag      TEXT    NOT NULL,
    to_tag        TEXT,
    code          INTEGER,
    reason        TEXT,
    caller_user   TEXT,
    caller_domain TEXT,
    callee_user   TEXT,
    callee_domain TEXT,
    source_ip     TEXT,
    ended_by      TEXT    CHECK (ended_by = 'caller' OR ended_by = 'callee'
                                 OR ended_by = 'proxy')
);

INSERT INTO acc_new (id, time_ms, kind, method, call_id, from_tag, to_tag, code, reason,
                     caller_user, caller_domain, callee_user, callee_domain, source_ip,
                     ended_by)
SELECT id, time_ms, kind, method, call_id, from_tag, to_tag, code, reason,
       caller_user, caller_domain, callee_user, callee_domain, source_ip, ended_by
FROM acc;

-- The counter: AUTOINCREMENT never reuses an id, even of rows deleted before.
UPDATE sqlite_sequence
SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'acc')
WHERE name = 'acc_new'
  AND (SELECT seq FROM sqlite_sequence WHERE name = 'acc') > seq;
INSERT INTO sqlite_sequence (name, seq)
SELECT 'acc_new', seq FROM sqlite_sequence
WHERE name = 'acc' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'acc_new');

DROP TABLE acc;
ALTER TABLE acc_new RENAME TO acc;

CREATE INDEX acc_time ON acc (time_ms);
CREATE INDEX acc_call_id ON acc (call_id);
CREATE INDEX acc_caller ON acc (caller_user, caller_domain);
CREATE INDEX acc_callee ON acc (callee_user, callee_domain);
