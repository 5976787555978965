ALTER TABLE customers DROP COLUMN sms_promotions_opt_out;
DROP TABLE sms_outbox;
