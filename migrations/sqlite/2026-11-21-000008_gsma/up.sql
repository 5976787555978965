-- The GSMA Mobile Money API v1.2 (`/gsma/v1.2/mm`): one row per request that creates something,
-- keyed by the caller's X-CorrelationID, and the callbacks owed to callers that asked for them.

CREATE TABLE gsma_requests (
    id INTEGER PRIMARY KEY,
    -- The requestState's serverCorrelationId (a UUID).
    server_correlation_id TEXT NOT NULL UNIQUE CHECK (length(server_correlation_id) = 36),
    -- `operator` or `merchant:<id>`: whose correlation ids these are.
    caller TEXT NOT NULL CHECK (length(caller) BETWEEN 1 AND 40),
    merchant_id BIGINT REFERENCES merchants (id),
    correlation_id TEXT CHECK (length(correlation_id) = 36),
    fingerprint TEXT NOT NULL CHECK (length(fingerprint) <= 64),
    operation TEXT NOT NULL CHECK (operation IN ('transfer', 'merchantpay', 'deposit', 'withdrawal',
                                                 'disbursement', 'reversal', 'debitmandate')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
    -- The ledger command to run (JSON), for requests that move money.
    command TEXT CHECK (length(command) <= 8192),
    -- What the final representation echoes back (JSON).
    context TEXT NOT NULL CHECK (length(context) <= 8192),
    payment_request_id BIGINT REFERENCES payment_requests (id),
    allowance_id BIGINT REFERENCES allowances (id),
    object_reference TEXT CHECK (length(object_reference) <= 64),
    response_status INTEGER,
    response_body TEXT CHECK (length(response_body) <= 16384),
    callback_url TEXT CHECK (length(callback_url) <= 500),
    claimed_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (caller, correlation_id)
);
CREATE INDEX gsma_requests_pending ON gsma_requests (id) WHERE status = 'pending';

-- Callbacks (HTTP PUT to the caller's X-Callback-URL), written in the same database transaction
-- as the request's final state, retried with backoff until their deadline.
CREATE TABLE gsma_callbacks (
    id INTEGER PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES gsma_requests (id),
    merchant_id BIGINT REFERENCES merchants (id),
    url TEXT NOT NULL CHECK (length(url) <= 500),
    correlation_id TEXT CHECK (length(correlation_id) = 36),
    payload TEXT NOT NULL CHECK (length(payload) <= 16384),
    status TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    deadline_at BIGINT NOT NULL,
    last_error TEXT CHECK (length(last_error) <= 500),
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX gsma_callbacks_due ON gsma_callbacks (next_attempt_at) WHERE status = 'queued';
CREATE INDEX gsma_callbacks_request ON gsma_callbacks (request_id);
