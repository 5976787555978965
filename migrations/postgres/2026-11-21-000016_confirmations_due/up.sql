-- A ledger batch's confirmations wait here, one row per confirmed transaction, until the SMS
-- dispatcher expands them into messages (sms::due): the ledger writer, the one thread every
-- payment waits for, then appends one small row per transfer instead of looking up its parties
-- and appending two messages. `sides` keeps what the journal does not: the balances the
-- transaction left on its debit and credit accounts, which the texts quote.
-- No foreign key, as for the outbox since 000009: the writer made the transaction in the same
-- database transaction, and the reconciliation counts rows without one.
CREATE TABLE sms_confirmations_due (
    transaction_id BIGINT PRIMARY KEY,
    sides TEXT NOT NULL CHECK (length(sides) BETWEEN 2 AND 200)
);
