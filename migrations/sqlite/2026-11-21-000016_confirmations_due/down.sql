-- Refuses while confirmations still wait (their messages would be lost): let the dispatcher run
-- until the table is empty first. The CHECK fails the INSERT, and so the migration, otherwise.
CREATE TEMP TABLE confirmations_due_must_be_empty (waiting INTEGER NOT NULL CHECK (waiting = 0));
INSERT INTO confirmations_due_must_be_empty SELECT COUNT(*) FROM sms_confirmations_due;
DROP TABLE confirmations_due_must_be_empty;
DROP TABLE sms_confirmations_due;
