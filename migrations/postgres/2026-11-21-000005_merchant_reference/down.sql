ALTER TABLE merchants DROP COLUMN requires_reference;
