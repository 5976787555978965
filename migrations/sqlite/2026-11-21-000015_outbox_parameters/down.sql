-- Back to rendered bodies only. An older build cannot render parameters, so a row kept as them
-- keeps its template's name as its body, and one not yet sent is failed with the reason, never
-- sent as that name.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE sms_outbox_rebuilt (
    id INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL CHECK (length(recipient) BETWEEN 8 AND 16),
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 1600),
    template TEXT NOT NULL CHECK (length(template) <= 40),
    language TEXT NOT NULL CHECK (language IN ('en', 'sw', 'fr')),
    transaction_id BIGINT REFERENCES transactions (id),
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
INSERT INTO sms_outbox_rebuilt (id, recipient, body, template, language, transaction_id,
    promotional, status, attempts, next_attempt_at, claimed_until, deadline_at, provider,
    provider_message_id, last_error, segments, created_at, sent_at, delivered_at)
SELECT id, recipient, COALESCE(body, '[' || template || ']'), template, language, transaction_id,
    promotional,
    CASE WHEN body IS NULL AND status IN ('queued', 'sending') THEN 'failed' ELSE status END,
    attempts, next_attempt_at,
    CASE WHEN body IS NULL AND status IN ('queued', 'sending') THEN NULL ELSE claimed_until END,
    deadline_at, provider, provider_message_id,
    CASE WHEN body IS NULL AND status IN ('queued', 'sending')
         THEN 'kept as parameters, which this build cannot render (migration 000015 reverted)'
         ELSE last_error END,
    COALESCE(segments, 1), created_at, sent_at, delivered_at
FROM sms_outbox;
DROP TABLE sms_outbox;
ALTER TABLE sms_outbox_rebuilt RENAME TO sms_outbox;
CREATE INDEX sms_outbox_due ON sms_outbox (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX sms_outbox_provider_id ON sms_outbox (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
COMMIT;
PRAGMA foreign_keys = ON;
