-- Each account's journal history becomes a chain through the journal itself: every posting
-- names, for its debit and for its credit account, the previous transaction that touched that
-- account, and the account names its newest one. Writing a transfer then touches only pages it
-- already writes (the appended journal rows, the account's balance row) instead of two indexes
-- on postings by account, each a random page per posting in an index that grows with the
-- journal (ops/BENCHMARKS.md, session 7). Statements walk the chain newest first;
-- `mkoba admin reconcile` checks every link. The links are derived from the journal, so they
-- are filled in here for what exists already.
ALTER TABLE accounts ADD COLUMN last_transaction_id BIGINT;
ALTER TABLE postings ADD COLUMN debit_prev_txn BIGINT;
ALTER TABLE postings ADD COLUMN credit_prev_txn BIGINT;

CREATE TEMP TABLE chain_links ON COMMIT DROP AS
SELECT account_id, transaction_id,
       LAG(transaction_id) OVER (PARTITION BY account_id ORDER BY transaction_id) AS prev_txn
FROM (SELECT debit_account_id AS account_id, transaction_id FROM postings
      UNION SELECT credit_account_id, transaction_id FROM postings) AS touches;
CREATE UNIQUE INDEX ON chain_links (account_id, transaction_id);

-- The only edit the journal ever takes: filling in derived links, with its guard lifted for it.
ALTER TABLE postings DISABLE TRIGGER postings_append_only;
UPDATE postings AS p SET debit_prev_txn = d.prev_txn, credit_prev_txn = c.prev_txn
FROM chain_links AS d, chain_links AS c
WHERE d.account_id = p.debit_account_id AND d.transaction_id = p.transaction_id
  AND c.account_id = p.credit_account_id AND c.transaction_id = p.transaction_id;
ALTER TABLE postings ENABLE TRIGGER postings_append_only;

UPDATE accounts AS a SET last_transaction_id = l.last
FROM (SELECT account_id, max(transaction_id) AS last FROM chain_links GROUP BY account_id) AS l
WHERE l.account_id = a.id;

DROP INDEX postings_debit;
DROP INDEX postings_credit;
