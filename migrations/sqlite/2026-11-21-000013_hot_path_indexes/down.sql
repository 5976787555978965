PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE INDEX IF NOT EXISTS sms_outbox_recipient ON sms_outbox (recipient, id);
CREATE TABLE transactions_rebuilt (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE CHECK (length(code) = 10),
    idempotency_key TEXT NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'transfer', 'merchant_payment', 'purchase', 'fee',
                                       'commission', 'reversal', 'float_issuance', 'float_transfer', 'adjustment', 'refund', 'disbursement')),
    phase TEXT NOT NULL CHECK (phase IN ('posted', 'pending', 'post_pending', 'void_pending')),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    fee_minor BIGINT NOT NULL CHECK (fee_minor >= 0),
    commission_minor BIGINT NOT NULL CHECK (commission_minor >= 0),
    debit_account_id BIGINT NOT NULL REFERENCES accounts (id),
    credit_account_id BIGINT NOT NULL REFERENCES accounts (id),
    related_id BIGINT REFERENCES transactions (id),
    expires_at BIGINT,
    memo TEXT NOT NULL CHECK (length(memo) <= 512),
    metadata TEXT NOT NULL CHECK (length(metadata) <= 8192),
    created_at BIGINT NOT NULL
);
INSERT INTO transactions_rebuilt SELECT * FROM transactions;
DROP TABLE transactions;
ALTER TABLE transactions_rebuilt RENAME TO transactions;
CREATE INDEX transactions_related ON transactions (related_id) WHERE related_id IS NOT NULL;
CREATE INDEX transactions_created ON transactions (created_at);
CREATE TRIGGER transactions_no_update BEFORE UPDATE ON transactions
BEGIN SELECT RAISE(ABORT, 'journal rows are append-only: UPDATE on transactions refused'); END;
CREATE TRIGGER transactions_no_delete BEFORE DELETE ON transactions
BEGIN SELECT RAISE(ABORT, 'journal rows are append-only: DELETE on transactions refused'); END;
COMMIT;
PRAGMA foreign_keys = ON;
