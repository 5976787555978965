-- Billers (water, power, school fees) need the customer's account number with every payment.
ALTER TABLE merchants ADD COLUMN requires_reference BOOLEAN NOT NULL DEFAULT FALSE;
