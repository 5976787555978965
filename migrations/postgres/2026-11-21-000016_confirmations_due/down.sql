-- Refuses while confirmations still wait (their messages would be lost): let the dispatcher run
-- until the table is empty first.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM sms_confirmations_due) THEN
        RAISE EXCEPTION 'sms_confirmations_due is not empty: run the SMS dispatcher until it is';
    END IF;
END
$$;
DROP TABLE sms_confirmations_due;
