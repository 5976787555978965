DROP INDEX accounts_one_system_account;
CREATE UNIQUE INDEX accounts_one_system_account ON accounts (kind, currency)
    WHERE owner_type = 'operator';
ALTER TABLE accounts DROP COLUMN shard;
