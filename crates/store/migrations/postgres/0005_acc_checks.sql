-- itsp store, PostgreSQL: nothing to change. Keep in step with
-- ../sqlite/0005_acc_checks.sql, which rewrites the CHECK constraints of `acc` from
-- `IN (...)` lists to comparisons because SQLite builds a temporary table for each such
-- list on every insert; PostgreSQL evaluates the lists in place. This file keeps the
-- migration numbers of the two backends the same.
SELECT 1;
