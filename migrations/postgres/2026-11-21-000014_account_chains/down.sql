CREATE INDEX postings_debit ON postings (debit_account_id, transaction_id);
CREATE INDEX postings_credit ON postings (credit_account_id, transaction_id);
ALTER TABLE postings DROP COLUMN credit_prev_txn;
ALTER TABLE postings DROP COLUMN debit_prev_txn;
ALTER TABLE accounts DROP COLUMN last_transaction_id;
