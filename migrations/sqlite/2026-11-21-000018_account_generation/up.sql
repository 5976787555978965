-- The SQLite ledger writer keeps the account rows it has loaded between batches
-- (`store::account_cache`). This one-row counter tells it whether its copy still holds: it reads
-- the counter inside each batch's write lock and drops its copy unless the counter is the value
-- its own last batch left.
--
-- What moves the counter:
-- * every ledger batch, by any writer thread or process (`store::batch`), once per batch;
-- * this trigger, whenever any statement sets an account column other than the six the ledger
--   batch itself writes (balance, reservations, day, day debits, chain head). Status, tier,
--   blacklisting, ownership and labels change outside the ledger (admin, portal, KYC), and a
--   stale copy of them would let a batch accept a transfer the rules refuse.
-- `UPDATE OF` is decided when a statement is prepared, so the batch's own account updates, which
-- set none of these columns, never fire it.
CREATE TABLE ledger_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL CHECK (n >= 0)
);
-- It starts from the clock (room for a million moves a second) rather than from 0, so that a
-- table dropped and made again never repeats a value a running writer's copy was stored at.
INSERT INTO ledger_generation (id, n) VALUES (1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
CREATE TRIGGER accounts_move_ledger_generation
AFTER UPDATE OF id, kind, currency, status, tier, blacklisted, owner_type, owner_id,
    commission_account_id, label, created_at, shard ON accounts
BEGIN UPDATE ledger_generation SET n = n + 1 WHERE id = 1; END;
