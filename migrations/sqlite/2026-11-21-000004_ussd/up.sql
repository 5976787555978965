-- USSD sessions live in the database so that any mkoba process can answer any hop, and a
-- session that dies before the PIN moves no money.
CREATE TABLE ussd_sessions (
    -- Dialect name and the gateway's session id: two gateways may reuse each other's ids.
    id TEXT PRIMARY KEY CHECK (length(id) <= 160),
    msisdn TEXT NOT NULL CHECK (length(msisdn) BETWEEN 8 AND 16),
    state TEXT NOT NULL CHECK (length(state) <= 16384),
    -- Africa's Talking sends the whole input path each hop; the last one we saw tells us which
    -- input is new.
    last_path TEXT NOT NULL DEFAULT '' CHECK (length(last_path) <= 2048),
    -- The last answer, replayed if the gateway repeats a hop we already answered.
    last_reply TEXT NOT NULL DEFAULT '' CHECK (length(last_reply) <= 1024),
    last_end BOOLEAN NOT NULL DEFAULT 0,
    hops INTEGER NOT NULL DEFAULT 0 CHECK (hops >= 0),
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ussd_sessions_expiry ON ussd_sessions (expires_at);

-- Set when wrong PINs reach the limit; only an agent (after checking ID) clears it.
ALTER TABLE customers ADD COLUMN pin_locked BOOLEAN NOT NULL DEFAULT 0;
