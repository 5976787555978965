DROP TABLE api_request_signatures;
DROP TABLE webhook_events;
DROP TABLE charge_summaries;
DROP TABLE allowance_charges;
DROP TABLE allowances;
DROP TABLE payment_requests;
DROP TABLE customer_pseudonyms;
DROP TABLE merchant_api_keys;
ALTER TABLE merchants DROP COLUMN webhook_events;
ALTER TABLE merchants DROP COLUMN webhook_url;
ALTER TABLE merchants DROP COLUMN require_signature;
ALTER TABLE merchants DROP COLUMN signing_secret;
ALTER TABLE transactions DROP CONSTRAINT transactions_kind_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_kind_check CHECK (kind IN (
    'deposit', 'withdrawal', 'transfer', 'merchant_payment', 'purchase', 'fee', 'commission',
    'reversal', 'float_issuance', 'float_transfer', 'adjustment'));
