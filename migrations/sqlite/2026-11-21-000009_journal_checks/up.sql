-- Accounts are never deleted (close them instead), so nothing in the journal can lose its
-- account. SQLite keeps its foreign keys (cheap index lookups in-process, and it cannot drop a
-- constraint without rebuilding the append-only journal); PostgreSQL drops the per-row triggers
-- of its journal's foreign keys in this migration, and `mkoba admin reconcile` checks the
-- references on both.
CREATE TRIGGER accounts_never_deleted BEFORE DELETE ON accounts
BEGIN
    SELECT RAISE(ABORT, 'accounts are never deleted: close them instead');
END;
