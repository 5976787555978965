ALTER TABLE transactions DROP CONSTRAINT transactions_kind_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_kind_check CHECK (kind IN (
    'deposit', 'withdrawal', 'transfer', 'merchant_payment', 'purchase', 'fee', 'commission',
    'reversal', 'float_issuance', 'float_transfer', 'adjustment', 'refund'));
