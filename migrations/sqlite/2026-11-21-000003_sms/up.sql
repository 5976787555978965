-- The SMS outbox. Rows are written in the same database transaction as the ledger transaction
-- they confirm, so a committed payment always gets its SMS and a rolled-back one never does.
-- A dispatcher claims due rows (a lease in claimed_until), sends them, and records the outcome.

CREATE TABLE sms_outbox (
    id INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL CHECK (length(recipient) BETWEEN 8 AND 16),
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 1600),
    template TEXT NOT NULL CHECK (length(template) <= 40),
    language TEXT NOT NULL CHECK (language IN ('en', 'sw', 'fr')),
    transaction_id BIGINT REFERENCES transactions (id),
    -- Promotional messages respect STOP; confirmations never do.
    promotional BOOLEAN NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    deadline_at BIGINT NOT NULL,
    provider TEXT,
    provider_message_id TEXT,
    last_error TEXT CHECK (length(last_error) <= 500),
    segments INTEGER NOT NULL CHECK (segments >= 1),
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    delivered_at BIGINT
);
CREATE INDEX sms_outbox_due ON sms_outbox (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX sms_outbox_recipient ON sms_outbox (recipient, id);
-- Not UNIQUE: a provider id is not ours to trust, and a failed record would mean a re-send.
CREATE INDEX sms_outbox_provider_id ON sms_outbox (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

ALTER TABLE customers ADD COLUMN sms_promotions_opt_out BOOLEAN NOT NULL DEFAULT 0;
