CREATE INDEX postings_debit ON postings (debit_account_id, transaction_id);
CREATE INDEX postings_credit ON postings (credit_account_id, transaction_id);
DROP TRIGGER postings_no_update;
ALTER TABLE postings DROP COLUMN credit_prev_txn;
ALTER TABLE postings DROP COLUMN debit_prev_txn;
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
BEGIN SELECT RAISE(ABORT, 'journal rows are append-only: UPDATE on postings refused'); END;
ALTER TABLE accounts DROP COLUMN last_transaction_id;
