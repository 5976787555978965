CREATE INDEX sms_outbox_recipient ON sms_outbox (recipient, id);
