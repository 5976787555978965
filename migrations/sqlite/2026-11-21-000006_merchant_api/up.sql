-- The merchant API: API keys (hashes only), per-merchant pseudonyms of customers, payment
-- requests a customer approves in USSD, allowances (debit mandates) that let a merchant charge
-- without a PIN, and a durable queue of signed webhooks.

-- Request signing and webhooks share one per-merchant HMAC key: it must be readable to verify
-- and sign, so it is stored as is (whoever reads this table can already read the ledger).
ALTER TABLE merchants ADD COLUMN signing_secret TEXT CHECK (length(signing_secret) <= 100);
ALTER TABLE merchants ADD COLUMN require_signature BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE merchants ADD COLUMN webhook_url TEXT CHECK (length(webhook_url) <= 500);
-- Comma-separated event types the merchant subscribed to; empty means none.
ALTER TABLE merchants ADD COLUMN webhook_events TEXT NOT NULL DEFAULT '' CHECK (length(webhook_events) <= 500);

CREATE TABLE merchant_api_keys (
    id INTEGER PRIMARY KEY,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    -- The public half of the key (`mk_<key_id>_<secret>`), used to find the row.
    key_id TEXT NOT NULL UNIQUE CHECK (length(key_id) BETWEEN 8 AND 40),
    -- Keyed SHA-256 of the secret half: the key has 160 bits of entropy, so a fast hash is safe.
    secret_hash TEXT NOT NULL CHECK (length(secret_hash) = 64),
    label TEXT NOT NULL CHECK (length(label) <= 60),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX merchant_api_keys_merchant ON merchant_api_keys (merchant_id, id);

-- The stable name a merchant knows a customer by. Computed with a keyed hash; stored so that a
-- merchant can address a customer by it.
CREATE TABLE customer_pseudonyms (
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    pseudonym TEXT NOT NULL CHECK (length(pseudonym) BETWEEN 8 AND 40),
    PRIMARY KEY (merchant_id, customer_id),
    UNIQUE (merchant_id, pseudonym)
);

CREATE TABLE payment_requests (
    id INTEGER PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE CHECK (length(public_id) BETWEEN 8 AND 40),
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    fingerprint TEXT NOT NULL CHECK (length(fingerprint) <= 64),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    description TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 200),
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'declined', 'expired', 'failed')),
    transaction_id BIGINT REFERENCES transactions (id),
    failure TEXT CHECK (length(failure) <= 64),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (merchant_id, idempotency_key)
);
CREATE INDEX payment_requests_customer_open ON payment_requests (customer_id, id) WHERE status = 'pending';
CREATE INDEX payment_requests_open_expiry ON payment_requests (expires_at) WHERE status = 'pending';

CREATE TABLE allowances (
    id INTEGER PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE CHECK (length(public_id) BETWEEN 8 AND 40),
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    wallet_account_id BIGINT NOT NULL REFERENCES accounts (id),
    merchant_account_id BIGINT NOT NULL REFERENCES accounts (id),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    cap_minor BIGINT NOT NULL CHECK (cap_minor > 0),
    -- Kept by the ledger batch that posts each charge, in the same database transaction.
    spent_minor BIGINT NOT NULL DEFAULT 0 CHECK (spent_minor >= 0 AND spent_minor <= cap_minor),
    per_charge_max_minor BIGINT NOT NULL CHECK (per_charge_max_minor > 0 AND per_charge_max_minor <= cap_minor),
    expires_at BIGINT NOT NULL,
    -- requested: waiting for the customer's PIN; lapsed: the request was never answered.
    status TEXT NOT NULL CHECK (status IN ('requested', 'active', 'revoked', 'declined', 'lapsed')),
    description TEXT NOT NULL CHECK (length(description) <= 200),
    idempotency_key TEXT CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    fingerprint TEXT CHECK (length(fingerprint) <= 64),
    request_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (merchant_id, idempotency_key)
);
CREATE INDEX allowances_customer ON allowances (customer_id, id);
CREATE INDEX allowances_merchant ON allowances (merchant_id, id);

-- One row per charge, written by the ledger batch with the charge's transaction.
CREATE TABLE allowance_charges (
    transaction_id BIGINT PRIMARY KEY REFERENCES transactions (id),
    allowance_id BIGINT NOT NULL REFERENCES allowances (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    created_at BIGINT NOT NULL
);
CREATE INDEX allowance_charges_allowance ON allowance_charges (allowance_id, transaction_id);
CREATE INDEX allowance_charges_created ON allowance_charges (created_at);

-- Days whose small charges have been summed up in one SMS to the customer.
CREATE TABLE charge_summaries (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    day_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, day_number)
);

-- Webhooks to merchants, written in the same database transaction as the change they announce.
CREATE TABLE webhook_events (
    id INTEGER PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE CHECK (length(public_id) BETWEEN 8 AND 40),
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    event_type TEXT NOT NULL CHECK (length(event_type) <= 40),
    payload TEXT NOT NULL CHECK (length(payload) <= 8192),
    status TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    deadline_at BIGINT NOT NULL,
    last_error TEXT CHECK (length(last_error) <= 500),
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE status = 'queued';
CREATE INDEX webhook_events_merchant ON webhook_events (merchant_id, id);

-- Signatures of signed requests seen inside the replay window; a second use is refused.
CREATE TABLE api_request_signatures (
    signature TEXT PRIMARY KEY CHECK (length(signature) <= 128),
    seen_at BIGINT NOT NULL
);
CREATE INDEX api_request_signatures_seen ON api_request_signatures (seen_at);
