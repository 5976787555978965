-- The people and businesses behind accounts. Secrets are argon2id hashes (PHC strings) made with
-- a server-side pepper; phone numbers are E.164.

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    msisdn TEXT NOT NULL UNIQUE CHECK (length(msisdn) BETWEEN 8 AND 16),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'sw', 'fr')),
    wallet_account_id BIGINT NOT NULL UNIQUE REFERENCES accounts (id),
    pin_hash TEXT,
    pin_failures INTEGER NOT NULL DEFAULT 0 CHECK (pin_failures >= 0),
    pin_must_change BOOLEAN NOT NULL DEFAULT 0,
    id_document TEXT CHECK (length(id_document) <= 40),
    created_at BIGINT NOT NULL
);

CREATE TABLE agents (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 3 AND 20),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role TEXT NOT NULL CHECK (role IN ('agent', 'super_agent')),
    parent_agent_id BIGINT REFERENCES agents (id),
    msisdn TEXT NOT NULL CHECK (length(msisdn) BETWEEN 8 AND 16),
    float_account_id BIGINT NOT NULL UNIQUE REFERENCES accounts (id),
    commission_account_id BIGINT UNIQUE REFERENCES accounts (id),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE merchants (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 3 AND 20),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    account_id BIGINT NOT NULL UNIQUE REFERENCES accounts (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    sku TEXT NOT NULL CHECK (length(sku) BETWEEN 1 AND 40),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    category TEXT NOT NULL CHECK (category IN ('airtime', 'data', 'article', 'song', 'game', 'software')),
    price_minor BIGINT NOT NULL CHECK (price_minor > 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    active BOOLEAN NOT NULL DEFAULT 1,
    UNIQUE (merchant_id, sku)
);
CREATE INDEX products_category ON products (category, id) WHERE active = 1;
