-- Back to the length CHECKs in the tables (statement journals for the writer's inserts again).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(replace(replace(replace(replace(sql,
        'code TEXT NOT NULL,', 'code TEXT NOT NULL CHECK (length(code) = 10),'),
        'idempotency_key TEXT NOT NULL UNIQUE,',
        'idempotency_key TEXT NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 128),'),
        'currency TEXT NOT NULL,', 'currency TEXT NOT NULL CHECK (length(currency) = 3),'),
        'memo TEXT NOT NULL,', 'memo TEXT NOT NULL CHECK (length(memo) <= 512),'),
        'metadata TEXT NOT NULL,', 'metadata TEXT NOT NULL CHECK (length(metadata) <= 8192),')
WHERE type = 'table' AND name = 'transactions';
UPDATE sqlite_schema SET sql = replace(sql,
        'sides TEXT NOT NULL', 'sides TEXT NOT NULL CHECK (length(sides) BETWEEN 2 AND 200)')
WHERE type = 'table' AND name = 'sms_confirmations_due';
PRAGMA writable_schema = RESET;
