-- A confirmation can be kept as its parameters (sms::parameters) and rendered when it is sent:
-- the ledger writer then appends about 80 bytes per message instead of about 200, and does not
-- render. A row holds exactly one of body and params; segments are counted when a body exists.
-- SQLite cannot drop NOT NULL, so the outbox is rebuilt the way migration 000013 rebuilt the
-- journal: outside diesel's transaction (metadata.toml), in one of its own.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE sms_outbox_rebuilt (
    id INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL CHECK (length(recipient) BETWEEN 8 AND 16),
    body TEXT CHECK (length(body) BETWEEN 1 AND 1600),
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
    segments INTEGER CHECK (segments >= 1),
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    delivered_at BIGINT,
    params TEXT CHECK (length(params) BETWEEN 1 AND 400),
    CONSTRAINT sms_outbox_body_or_params CHECK ((body IS NULL) <> (params IS NULL)),
    CONSTRAINT sms_outbox_segments_of_body CHECK ((body IS NULL) = (segments IS NULL))
);
INSERT INTO sms_outbox_rebuilt (id, recipient, body, template, language, transaction_id,
    promotional, status, attempts, next_attempt_at, claimed_until, deadline_at, provider,
    provider_message_id, last_error, segments, created_at, sent_at, delivered_at)
SELECT id, recipient, body, template, language, transaction_id, promotional, status, attempts,
    next_attempt_at, claimed_until, deadline_at, provider, provider_message_id, last_error,
    segments, created_at, sent_at, delivered_at
FROM sms_outbox;
DROP TABLE sms_outbox;
ALTER TABLE sms_outbox_rebuilt RENAME TO sms_outbox;
CREATE INDEX sms_outbox_due ON sms_outbox (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX sms_outbox_provider_id ON sms_outbox (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
COMMIT;
PRAGMA foreign_keys = ON;
