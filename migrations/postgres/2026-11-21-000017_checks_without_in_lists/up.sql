-- SQLite only (see its 000017): PostgreSQL checks an IN list without building anything per row.
-- Kept so that both backends' migrations stay in step.
SELECT 1;
