-- A merchant may give a phone number for SMS receipts of what it sells (never a customer's
-- identity: the receipt names the amount, the fee and the code).
ALTER TABLE merchants ADD COLUMN msisdn TEXT CHECK (length(msisdn) BETWEEN 8 AND 16);
