DROP TRIGGER accounts_move_ledger_generation;
DROP TABLE ledger_generation;
