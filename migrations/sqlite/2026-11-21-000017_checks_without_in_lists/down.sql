-- Back to the IN lists (the same constraints, checked more slowly).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(replace(replace(replace(sql,
        '(kind = ''customer_wallet'' OR kind = ''agent_float'' OR kind = ''agent_commission'' OR kind = ''merchant'' OR kind = ''fee_revenue'' OR kind = ''emoney_issuance'' OR kind = ''suspense'')',
        'kind IN (''customer_wallet'', ''agent_float'', ''agent_commission'', ''merchant'',
                                       ''fee_revenue'', ''emoney_issuance'', ''suspense'')'),
        '(status = ''active'' OR status = ''frozen'' OR status = ''closed'')',
        'status IN (''active'', ''frozen'', ''closed'')'),
        '(owner_type = ''operator'' OR owner_type = ''customer'' OR owner_type = ''agent'' OR owner_type = ''merchant'')',
        'owner_type IN (''operator'', ''customer'', ''agent'', ''merchant'')'),
        '(kind <> ''customer_wallet'' AND kind <> ''agent_float'' AND kind <> ''agent_commission'' AND kind <> ''merchant'')',
        'kind NOT IN (''customer_wallet'', ''agent_float'', ''agent_commission'', ''merchant'')')
WHERE type = 'table' AND name = 'accounts';
UPDATE sqlite_schema SET sql = replace(sql,
        '(role = ''agent'' OR role = ''super_agent'')',
        'role IN (''agent'', ''super_agent'')')
WHERE type = 'table' AND name = 'agents';
UPDATE sqlite_schema SET sql = replace(sql,
        '(status = ''requested'' OR status = ''active'' OR status = ''revoked'' OR status = ''declined'' OR status = ''lapsed'')',
        'status IN (''requested'', ''active'', ''revoked'', ''declined'', ''lapsed'')')
WHERE type = 'table' AND name = 'allowances';
UPDATE sqlite_schema SET sql = replace(sql,
        '(language = ''en'' OR language = ''sw'' OR language = ''fr'')',
        'language IN (''en'', ''sw'', ''fr'')')
WHERE type = 'table' AND name = 'customers';
UPDATE sqlite_schema SET sql = replace(sql,
        '(status = ''pending'' OR status = ''approved'' OR status = ''rejected'')',
        'status IN (''pending'', ''approved'', ''rejected'')')
WHERE type = 'table' AND name = 'float_requests';
UPDATE sqlite_schema SET sql = replace(sql,
        '(status = ''queued'' OR status = ''delivered'' OR status = ''failed'')',
        'status IN (''queued'', ''delivered'', ''failed'')')
WHERE type = 'table' AND name = 'gsma_callbacks';
UPDATE sqlite_schema SET sql = replace(replace(sql,
        '(operation = ''transfer'' OR operation = ''merchantpay'' OR operation = ''deposit'' OR operation = ''withdrawal'' OR operation = ''disbursement'' OR operation = ''reversal'' OR operation = ''debitmandate'')',
        'operation IN (''transfer'', ''merchantpay'', ''deposit'', ''withdrawal'',
                                                 ''disbursement'', ''reversal'', ''debitmandate'')'),
        '(status = ''pending'' OR status = ''completed'' OR status = ''failed'')',
        'status IN (''pending'', ''completed'', ''failed'')')
WHERE type = 'table' AND name = 'gsma_requests';
UPDATE sqlite_schema SET sql = replace(sql,
        '(status = ''pending'' OR status = ''paid'' OR status = ''declined'' OR status = ''expired'' OR status = ''failed'')',
        'status IN (''pending'', ''paid'', ''declined'', ''expired'', ''failed'')')
WHERE type = 'table' AND name = 'payment_requests';
UPDATE sqlite_schema SET sql = replace(sql,
        '(status = ''open'' OR status = ''posted'' OR status = ''voided'' OR status = ''expired'')',
        'status IN (''open'', ''posted'', ''voided'', ''expired'')')
WHERE type = 'table' AND name = 'pending_transfers';
UPDATE sqlite_schema SET sql = replace(sql,
        '(role = ''till_operator'' OR role = ''agent_owner'' OR role = ''super_agent'' OR role = ''operator_admin'')',
        'role IN (''till_operator'', ''agent_owner'', ''super_agent'', ''operator_admin'')')
WHERE type = 'table' AND name = 'portal_users';
UPDATE sqlite_schema SET sql = replace(sql,
        '(leg = ''principal'' OR leg = ''fee'' OR leg = ''commission'')',
        'leg IN (''principal'', ''fee'', ''commission'')')
WHERE type = 'table' AND name = 'postings';
UPDATE sqlite_schema SET sql = replace(sql,
        '(category = ''airtime'' OR category = ''data'' OR category = ''article'' OR category = ''song'' OR category = ''game'' OR category = ''software'')',
        'category IN (''airtime'', ''data'', ''article'', ''song'', ''game'', ''software'')')
WHERE type = 'table' AND name = 'products';
UPDATE sqlite_schema SET sql = replace(replace(sql,
        '(language = ''en'' OR language = ''sw'' OR language = ''fr'')',
        'language IN (''en'', ''sw'', ''fr'')'),
        '(status = ''queued'' OR status = ''sending'' OR status = ''sent'' OR status = ''delivered'' OR status = ''undelivered'' OR status = ''failed'')',
        'status IN (''queued'', ''sending'', ''sent'', ''delivered'', ''undelivered'', ''failed'')')
WHERE type = 'table' AND name = 'sms_outbox';
UPDATE sqlite_schema SET sql = replace(replace(sql,
        '(kind = ''deposit'' OR kind = ''withdrawal'' OR kind = ''transfer'' OR kind = ''merchant_payment'' OR kind = ''purchase'' OR kind = ''fee'' OR kind = ''commission'' OR kind = ''reversal'' OR kind = ''float_issuance'' OR kind = ''float_transfer'' OR kind = ''adjustment'' OR kind = ''refund'' OR kind = ''disbursement'')',
        'kind IN (''deposit'', ''withdrawal'', ''transfer'', ''merchant_payment'', ''purchase'', ''fee'',
                                       ''commission'', ''reversal'', ''float_issuance'', ''float_transfer'', ''adjustment'', ''refund'', ''disbursement'')'),
        '(phase = ''posted'' OR phase = ''pending'' OR phase = ''post_pending'' OR phase = ''void_pending'')',
        'phase IN (''posted'', ''pending'', ''post_pending'', ''void_pending'')')
WHERE type = 'table' AND name = 'transactions';
UPDATE sqlite_schema SET sql = replace(sql,
        '(status = ''queued'' OR status = ''delivered'' OR status = ''failed'')',
        'status IN (''queued'', ''delivered'', ''failed'')')
WHERE type = 'table' AND name = 'webhook_events';
PRAGMA writable_schema = RESET;
