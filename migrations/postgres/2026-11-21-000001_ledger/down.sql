DROP TABLE settings;
DROP TABLE pending_transfers;
DROP SEQUENCE transaction_ids;
DROP TABLE postings;
DROP TABLE transactions;
DROP FUNCTION refuse_journal_change() CASCADE;
DROP TABLE accounts;
