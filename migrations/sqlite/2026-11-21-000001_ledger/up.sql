-- The central ledger. Money columns are BIGINT minor units; times are BIGINT microseconds since
-- the Unix epoch (UTC), the same on both backends.

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('customer_wallet', 'agent_float', 'agent_commission', 'merchant',
                                       'fee_revenue', 'emoney_issuance', 'suspense')),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'closed')),
    tier SMALLINT NOT NULL DEFAULT 0 CHECK (tier BETWEEN 0 AND 2),
    blacklisted BOOLEAN NOT NULL DEFAULT 0,
    owner_type TEXT NOT NULL CHECK (owner_type IN ('operator', 'customer', 'agent', 'merchant')),
    owner_id BIGINT,
    commission_account_id BIGINT REFERENCES accounts (id),
    label TEXT NOT NULL CHECK (length(label) <= 200),
    balance_minor BIGINT NOT NULL DEFAULT 0,
    pending_debits_minor BIGINT NOT NULL DEFAULT 0 CHECK (pending_debits_minor >= 0),
    pending_credits_minor BIGINT NOT NULL DEFAULT 0 CHECK (pending_credits_minor >= 0),
    day_number BIGINT NOT NULL DEFAULT 0,
    day_debits_minor BIGINT NOT NULL DEFAULT 0 CHECK (day_debits_minor >= 0),
    created_at BIGINT NOT NULL,
    -- The last line of defence behind the ledger's own checks: e-money holders never go below
    -- zero, counting what pending debits reserve.
    CONSTRAINT accounts_floor CHECK (
        kind NOT IN ('customer_wallet', 'agent_float', 'agent_commission', 'merchant')
        OR balance_minor - pending_debits_minor >= 0)
);
-- One fee revenue, issuance and suspense account per currency.
CREATE UNIQUE INDEX accounts_one_system_account ON accounts (kind, currency)
    WHERE owner_type = 'operator';
CREATE INDEX accounts_owner ON accounts (owner_type, owner_id);

CREATE TABLE transactions (
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
CREATE INDEX transactions_related ON transactions (related_id) WHERE related_id IS NOT NULL;
CREATE INDEX transactions_created ON transactions (created_at);

CREATE TABLE postings (
    transaction_id BIGINT NOT NULL REFERENCES transactions (id),
    seq SMALLINT NOT NULL CHECK (seq >= 0),
    leg TEXT NOT NULL CHECK (leg IN ('principal', 'fee', 'commission')),
    debit_account_id BIGINT NOT NULL REFERENCES accounts (id),
    credit_account_id BIGINT NOT NULL REFERENCES accounts (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    reservation BOOLEAN NOT NULL,
    PRIMARY KEY (transaction_id, seq),
    CHECK (debit_account_id <> credit_account_id)
);
CREATE INDEX postings_debit ON postings (debit_account_id, transaction_id);
CREATE INDEX postings_credit ON postings (credit_account_id, transaction_id);

-- The journal is append-only: corrections are new transactions, never edits.
CREATE TRIGGER transactions_no_update BEFORE UPDATE ON transactions
BEGIN SELECT RAISE(ABORT, 'journal rows are append-only: UPDATE on transactions refused'); END;
CREATE TRIGGER transactions_no_delete BEFORE DELETE ON transactions
BEGIN SELECT RAISE(ABORT, 'journal rows are append-only: DELETE on transactions refused'); END;
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
BEGIN SELECT RAISE(ABORT, 'journal rows are append-only: UPDATE on postings refused'); END;
CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings
BEGIN SELECT RAISE(ABORT, 'journal rows are append-only: DELETE on postings refused'); END;

-- Mutable state of a reservation; the journal holds the immutable history.
CREATE TABLE pending_transfers (
    transaction_id BIGINT PRIMARY KEY REFERENCES transactions (id),
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    debit_account_id BIGINT NOT NULL REFERENCES accounts (id),
    credit_account_id BIGINT NOT NULL REFERENCES accounts (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    expires_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'posted', 'voided', 'expired')),
    day_number BIGINT NOT NULL,
    resolved_by BIGINT REFERENCES transactions (id),
    CHECK ((status = 'open') = (resolved_by IS NULL))
);
CREATE INDEX pending_transfers_open_expiry ON pending_transfers (expires_at) WHERE status = 'open';
CREATE INDEX pending_transfers_open_credit ON pending_transfers (credit_account_id) WHERE status = 'open';
CREATE INDEX pending_transfers_open_debit ON pending_transfers (debit_account_id) WHERE status = 'open';

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
