-- A ledger batch's confirmations wait here, one row per confirmed transaction, until the SMS
-- dispatcher expands them into messages (sms::due): the ledger writer, the one thread every
-- payment waits for, then appends one small row per transfer instead of looking up its parties
-- and appending two messages. `sides` keeps what the journal does not: the balances the
-- transaction left on its debit and credit accounts, which the texts quote.
-- The primary key is the transaction's id, so rows append in the order the writer commits them.
CREATE TABLE sms_confirmations_due (
    transaction_id INTEGER PRIMARY KEY REFERENCES transactions (id),
    sides TEXT NOT NULL CHECK (length(sides) BETWEEN 2 AND 200)
);
