-- Fee revenue may be split over several accounts, one per ledger writer thread: every batch
-- credits fees, so with one fee revenue row concurrent batches would queue on its lock. Reports
-- add the shards up; shard 0 is the account that existed before.
ALTER TABLE accounts ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 63);
DROP INDEX accounts_one_system_account;
CREATE UNIQUE INDEX accounts_one_system_account ON accounts (kind, currency, shard)
    WHERE owner_type = 'operator';
