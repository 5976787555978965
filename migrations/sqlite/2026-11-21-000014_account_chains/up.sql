-- Each account's journal history becomes a chain through the journal itself: every posting
-- names, for its debit and for its credit account, the previous transaction that touched that
-- account, and the account names its newest one. Writing a transfer then touches only pages it
-- already writes (the appended journal rows, the account's balance row), where the two indexes
-- on postings by account put every posting on a random page of an index that grows with the
-- journal: at 10M transactions each wallet's insertion point was a page of its own, and the
-- ledger ran at 0.76 of its speed on a small journal (ops/BENCHMARKS.md, session 7).
-- Statements walk the chain newest first; `mkoba admin reconcile` checks every link.
-- The links are derived from the journal, so they are filled in here for what exists already.
ALTER TABLE accounts ADD COLUMN last_transaction_id BIGINT;
ALTER TABLE postings ADD COLUMN debit_prev_txn BIGINT;
ALTER TABLE postings ADD COLUMN credit_prev_txn BIGINT;

CREATE TEMP TABLE chain_links (
    account_id BIGINT NOT NULL,
    transaction_id BIGINT NOT NULL,
    prev_txn BIGINT,
    PRIMARY KEY (account_id, transaction_id)
) WITHOUT ROWID;
INSERT INTO chain_links (account_id, transaction_id, prev_txn)
SELECT account_id, transaction_id,
       LAG(transaction_id) OVER (PARTITION BY account_id ORDER BY transaction_id)
FROM (SELECT debit_account_id AS account_id, transaction_id FROM postings
      UNION SELECT credit_account_id, transaction_id FROM postings);

-- The only edit the journal ever takes: filling in derived links, with its guard lifted for it.
DROP TRIGGER postings_no_update;
UPDATE postings SET
    debit_prev_txn = (SELECT prev_txn FROM chain_links l
                      WHERE l.account_id = postings.debit_account_id
                        AND l.transaction_id = postings.transaction_id),
    credit_prev_txn = (SELECT prev_txn FROM chain_links l
                       WHERE l.account_id = postings.credit_account_id
                         AND l.transaction_id = postings.transaction_id);
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
BEGIN SELECT RAISE(ABORT, 'journal rows are append-only: UPDATE on postings refused'); END;

UPDATE accounts SET last_transaction_id =
    (SELECT max(transaction_id) FROM chain_links l WHERE l.account_id = accounts.id);
DROP TABLE chain_links;

DROP INDEX postings_debit;
DROP INDEX postings_credit;
