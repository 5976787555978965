-- Disbursements: a merchant pays a customer out (salaries, prizes, cash back). (SQLite's ledger
-- migration lists the kind from the start: it cannot alter a CHECK in place.)
ALTER TABLE transactions DROP CONSTRAINT transactions_kind_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_kind_check CHECK (kind IN (
    'deposit', 'withdrawal', 'transfer', 'merchant_payment', 'purchase', 'fee', 'commission',
    'reversal', 'float_issuance', 'float_transfer', 'adjustment', 'refund', 'disbursement'));
