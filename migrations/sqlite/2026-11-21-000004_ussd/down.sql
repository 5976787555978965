ALTER TABLE customers DROP COLUMN pin_locked;
DROP TABLE ussd_sessions;
