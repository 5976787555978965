-- SQLite builds a temporary B-tree for `x IN ('a', 'b', 'c')` each time it checks such a CHECK
-- constraint: for every journal row (kind, phase), posting (leg), account update (the floor's
-- `kind NOT IN`), outbox message (status) and so on. That was 14% of the ledger writer's CPU
-- (mkoba-bench ledger, SQLite). The same tests written as `x = 'a' OR x = 'b' OR x = 'c'` (and
-- `NOT IN` as `<>` joined by AND) are plain comparisons. The columns are NOT NULL or their CHECK
-- held already, so each rewritten constraint accepts exactly the rows the old one did.
--
-- A CHECK constraint does not change what is stored, so the table definitions are edited in
-- place, as SQLite documents for such changes ("Making Other Kinds Of Table Schema Changes"),
-- instead of rebuilding every table (the journal among them). `RESET` reloads the schema.
-- `migrations::sqlite_checks_build_no_temporary_tables` holds new migrations to this form.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(replace(replace(replace(sql,
        'kind IN (''customer_wallet'', ''agent_float'', ''agent_commission'', ''merchant'',
                                       ''fee_revenue'', ''emoney_issuance'', ''suspense'')',
        '(kind = ''customer_wallet'' OR kind = ''agent_float'' OR kind = ''agent_commission'' OR kind = ''merchant'' OR kind = ''fee_revenue'' OR kind = ''emoney_issuance'' OR kind = ''suspense'')'),
        'status IN (''active'', ''frozen'', ''closed'')',
        '(status = ''active'' OR status = ''frozen'' OR status = ''closed'')'),
        'owner_type IN (''operator'', ''customer'', ''agent'', ''merchant'')',
        '(owner_type = ''operator'' OR owner_type = ''customer'' OR owner_type = ''agent'' OR owner_type = ''merchant'')'),
        'kind NOT IN (''customer_wallet'', ''agent_float'', ''agent_commission'', ''merchant'')',
        '(kind <> ''customer_wallet'' AND kind <> ''agent_float'' AND kind <> ''agent_commission'' AND kind <> ''merchant'')')
WHERE type = 'table' AND name = 'accounts';
UPDATE sqlite_schema SET sql = replace(sql,
        'role IN (''agent'', ''super_agent'')',
        '(role = ''agent'' OR role = ''super_agent'')')
WHERE type = 'table' AND name = 'agents';
UPDATE sqlite_schema SET sql = replace(sql,
        'status IN (''requested'', ''active'', ''revoked'', ''declined'', ''lapsed'')',
        '(status = ''requested'' OR status = ''active'' OR status = ''revoked'' OR status = ''declined'' OR status = ''lapsed'')')
WHERE type = 'table' AND name = 'allowances';
UPDATE sqlite_schema SET sql = replace(sql,
        'language IN (''en'', ''sw'', ''fr'')',
        '(language = ''en'' OR language = ''sw'' OR language = ''fr'')')
WHERE type = 'table' AND name = 'customers';
UPDATE sqlite_schema SET sql = replace(sql,
        'status IN (''pending'', ''approved'', ''rejected'')',
        '(status = ''pending'' OR status = ''approved'' OR status = ''rejected'')')
WHERE type = 'table' AND name = 'float_requests';
UPDATE sqlite_schema SET sql = replace(sql,
        'status IN (''queued'', ''delivered'', ''failed'')',
        '(status = ''queued'' OR status = ''delivered'' OR status = ''failed'')')
WHERE type = 'table' AND name = 'gsma_callbacks';
UPDATE sqlite_schema SET sql = replace(replace(sql,
        'operation IN (''transfer'', ''merchantpay'', ''deposit'', ''withdrawal'',
                                                 ''disbursement'', ''reversal'', ''debitmandate'')',
        '(operation = ''transfer'' OR operation = ''merchantpay'' OR operation = ''deposit'' OR operation = ''withdrawal'' OR operation = ''disbursement'' OR operation = ''reversal'' OR operation = ''debitmandate'')'),
        'status IN (''pending'', ''completed'', ''failed'')',
        '(status = ''pending'' OR status = ''completed'' OR status = ''failed'')')
WHERE type = 'table' AND name = 'gsma_requests';
UPDATE sqlite_schema SET sql = replace(sql,
        'status IN (''pending'', ''paid'', ''declined'', ''expired'', ''failed'')',
        '(status = ''pending'' OR status = ''paid'' OR status = ''declined'' OR status = ''expired'' OR status = ''failed'')')
WHERE type = 'table' AND name = 'payment_requests';
UPDATE sqlite_schema SET sql = replace(sql,
        'status IN (''open'', ''posted'', ''voided'', ''expired'')',
        '(status = ''open'' OR status = ''posted'' OR status = ''voided'' OR status = ''expired'')')
WHERE type = 'table' AND name = 'pending_transfers';
UPDATE sqlite_schema SET sql = replace(sql,
        'role IN (''till_operator'', ''agent_owner'', ''super_agent'', ''operator_admin'')',
        '(role = ''till_operator'' OR role = ''agent_owner'' OR role = ''super_agent'' OR role = ''operator_admin'')')
WHERE type = 'table' AND name = 'portal_users';
UPDATE sqlite_schema SET sql = replace(sql,
        'leg IN (''principal'', ''fee'', ''commission'')',
        '(leg = ''principal'' OR leg = ''fee'' OR leg = ''commission'')')
WHERE type = 'table' AND name = 'postings';
UPDATE sqlite_schema SET sql = replace(sql,
        'category IN (''airtime'', ''data'', ''article'', ''song'', ''game'', ''software'')',
        '(category = ''airtime'' OR category = ''data'' OR category = ''article'' OR category = ''song'' OR category = ''game'' OR category = ''software'')')
WHERE type = 'table' AND name = 'products';
UPDATE sqlite_schema SET sql = replace(replace(sql,
        'language IN (''en'', ''sw'', ''fr'')',
        '(language = ''en'' OR language = ''sw'' OR language = ''fr'')'),
        'status IN (''queued'', ''sending'', ''sent'', ''delivered'', ''undelivered'', ''failed'')',
        '(status = ''queued'' OR status = ''sending'' OR status = ''sent'' OR status = ''delivered'' OR status = ''undelivered'' OR status = ''failed'')')
WHERE type = 'table' AND name = 'sms_outbox';
UPDATE sqlite_schema SET sql = replace(replace(sql,
        'kind IN (''deposit'', ''withdrawal'', ''transfer'', ''merchant_payment'', ''purchase'', ''fee'',
                                       ''commission'', ''reversal'', ''float_issuance'', ''float_transfer'', ''adjustment'', ''refund'', ''disbursement'')',
        '(kind = ''deposit'' OR kind = ''withdrawal'' OR kind = ''transfer'' OR kind = ''merchant_payment'' OR kind = ''purchase'' OR kind = ''fee'' OR kind = ''commission'' OR kind = ''reversal'' OR kind = ''float_issuance'' OR kind = ''float_transfer'' OR kind = ''adjustment'' OR kind = ''refund'' OR kind = ''disbursement'')'),
        'phase IN (''posted'', ''pending'', ''post_pending'', ''void_pending'')',
        '(phase = ''posted'' OR phase = ''pending'' OR phase = ''post_pending'' OR phase = ''void_pending'')')
WHERE type = 'table' AND name = 'transactions';
UPDATE sqlite_schema SET sql = replace(sql,
        'status IN (''queued'', ''delivered'', ''failed'')',
        '(status = ''queued'' OR status = ''delivered'' OR status = ''failed'')')
WHERE type = 'table' AND name = 'webhook_events';
PRAGMA writable_schema = RESET;
