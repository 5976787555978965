-- SQLite only (see its 000018): on PostgreSQL several writer threads and processes write
-- accounts under row locks, and the writer keeps no copy of them between batches.
-- Kept so that both backends' migrations stay in step.
SELECT 1;
