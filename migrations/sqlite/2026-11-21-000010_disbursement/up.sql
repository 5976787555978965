-- Disbursements need no change here: the ledger migration lists the kind (see the PostgreSQL twin).
SELECT 1;
