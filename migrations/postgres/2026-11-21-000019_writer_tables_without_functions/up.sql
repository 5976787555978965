-- SQLite only (see its 000019): PostgreSQL keeps the journal's length CHECKs, which cost it no
-- statement journal. Kept so that both backends' migrations stay in step.
SELECT 1;
