DROP TRIGGER accounts_no_truncate ON accounts;
DROP TRIGGER accounts_never_deleted ON accounts;
DROP FUNCTION refuse_account_delete();
ALTER TABLE sms_outbox ADD CONSTRAINT sms_outbox_transaction_id_fkey
    FOREIGN KEY (transaction_id) REFERENCES transactions (id);
ALTER TABLE transactions ADD CONSTRAINT transactions_related_id_fkey
    FOREIGN KEY (related_id) REFERENCES transactions (id);
ALTER TABLE transactions ADD CONSTRAINT transactions_credit_account_id_fkey
    FOREIGN KEY (credit_account_id) REFERENCES accounts (id);
ALTER TABLE transactions ADD CONSTRAINT transactions_debit_account_id_fkey
    FOREIGN KEY (debit_account_id) REFERENCES accounts (id);
ALTER TABLE postings ADD CONSTRAINT postings_credit_account_id_fkey
    FOREIGN KEY (credit_account_id) REFERENCES accounts (id);
ALTER TABLE postings ADD CONSTRAINT postings_debit_account_id_fkey
    FOREIGN KEY (debit_account_id) REFERENCES accounts (id);
ALTER TABLE postings ADD CONSTRAINT postings_transaction_id_fkey
    FOREIGN KEY (transaction_id) REFERENCES transactions (id);
