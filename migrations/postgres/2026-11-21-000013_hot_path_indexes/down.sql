ALTER TABLE transactions ADD CONSTRAINT transactions_code_key UNIQUE (code);
CREATE INDEX sms_outbox_recipient ON sms_outbox (recipient, id);
