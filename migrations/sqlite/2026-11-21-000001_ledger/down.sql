DROP TABLE settings;
DROP TABLE pending_transfers;
DROP TABLE postings;
DROP TABLE transactions;
DROP TABLE accounts;
