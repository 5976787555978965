ALTER TABLE merchants DROP COLUMN msisdn;
