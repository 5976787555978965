-- Every confirmed transfer writes two outbox rows; this index put each of them on a random page
-- (numbers are random). Only the development inbox (/dev/sms/{number}) looked messages up by
-- number, and it now reads the most recent rows instead (sms::outbox::for_recipient).
DROP INDEX sms_outbox_recipient;
-- A code is the transaction id through a keyed permutation (mkoba_ledger::TxnCodes): two ids
-- never share a code, and every lookup by code decodes it to the id. The unique index was one
-- more random page per transfer that nothing read.
ALTER TABLE transactions DROP CONSTRAINT transactions_code_key;
