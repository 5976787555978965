//! Diesel's view of the tables in `migrations/`; the same on SQLite and PostgreSQL.

diesel::table! {
    accounts (id) {
        id -> BigInt,
        kind -> Text,
        currency -> Text,
        status -> Text,
        tier -> SmallInt,
        blacklisted -> Bool,
        owner_type -> Text,
        owner_id -> Nullable<BigInt>,
        commission_account_id -> Nullable<BigInt>,
        label -> Text,
        balance_minor -> BigInt,
        pending_debits_minor -> BigInt,
        pending_credits_minor -> BigInt,
        day_number -> BigInt,
        day_debits_minor -> BigInt,
        created_at -> BigInt,
        shard -> SmallInt,
        last_transaction_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    transactions (id) {
        id -> BigInt,
        code -> Text,
        idempotency_key -> Text,
        fingerprint -> Text,
        kind -> Text,
        phase -> Text,
        currency -> Text,
        amount_minor -> BigInt,
        fee_minor -> BigInt,
        commission_minor -> BigInt,
        debit_account_id -> BigInt,
        credit_account_id -> BigInt,
        related_id -> Nullable<BigInt>,
        expires_at -> Nullable<BigInt>,
        memo -> Text,
        metadata -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    postings (transaction_id, seq) {
        transaction_id -> BigInt,
        seq -> SmallInt,
        leg -> Text,
        debit_account_id -> BigInt,
        credit_account_id -> BigInt,
        amount_minor -> BigInt,
        reservation -> Bool,
        debit_prev_txn -> Nullable<BigInt>,
        credit_prev_txn -> Nullable<BigInt>,
    }
}

diesel::table! {
    pending_transfers (transaction_id) {
        transaction_id -> BigInt,
        kind -> Text,
        currency -> Text,
        debit_account_id -> BigInt,
        credit_account_id -> BigInt,
        amount_minor -> BigInt,
        expires_at -> BigInt,
        status -> Text,
        day_number -> BigInt,
        resolved_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    customers (id) {
        id -> BigInt,
        msisdn -> Text,
        name -> Text,
        language -> Text,
        wallet_account_id -> BigInt,
        pin_hash -> Nullable<Text>,
        pin_failures -> Integer,
        pin_must_change -> Bool,
        id_document -> Nullable<Text>,
        created_at -> BigInt,
        sms_promotions_opt_out -> Bool,
        pin_locked -> Bool,
    }
}

diesel::table! {
    ussd_sessions (id) {
        id -> Text,
        msisdn -> Text,
        state -> Text,
        last_path -> Text,
        last_reply -> Text,
        last_end -> Bool,
        hops -> Integer,
        updated_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    sms_outbox (id) {
        id -> BigInt,
        recipient -> Text,
        body -> Nullable<Text>,
        template -> Text,
        language -> Text,
        transaction_id -> Nullable<BigInt>,
        promotional -> Bool,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        claimed_until -> Nullable<BigInt>,
        deadline_at -> BigInt,
        provider -> Nullable<Text>,
        provider_message_id -> Nullable<Text>,
        last_error -> Nullable<Text>,
        segments -> Nullable<Integer>,
        created_at -> BigInt,
        sent_at -> Nullable<BigInt>,
        delivered_at -> Nullable<BigInt>,
        params -> Nullable<Text>,
    }
}

// Confirmations waiting to become messages (migration 000016, `sms::due`).
diesel::table! {
    sms_confirmations_due (transaction_id) {
        transaction_id -> BigInt,
        sides -> Text,
    }
}

diesel::table! {
    agents (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        role -> Text,
        parent_agent_id -> Nullable<BigInt>,
        msisdn -> Text,
        float_account_id -> BigInt,
        commission_account_id -> Nullable<BigInt>,
        password_hash -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    merchants (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        account_id -> BigInt,
        created_at -> BigInt,
        requires_reference -> Bool,
        signing_secret -> Nullable<Text>,
        require_signature -> Bool,
        webhook_url -> Nullable<Text>,
        webhook_events -> Text,
        msisdn -> Nullable<Text>,
    }
}

diesel::table! {
    merchant_api_keys (id) {
        id -> BigInt,
        merchant_id -> BigInt,
        key_id -> Text,
        secret_hash -> Text,
        label -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    customer_pseudonyms (merchant_id, customer_id) {
        merchant_id -> BigInt,
        customer_id -> BigInt,
        pseudonym -> Text,
    }
}

diesel::table! {
    payment_requests (id) {
        id -> BigInt,
        public_id -> Text,
        merchant_id -> BigInt,
        customer_id -> BigInt,
        idempotency_key -> Text,
        fingerprint -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        description -> Text,
        status -> Text,
        transaction_id -> Nullable<BigInt>,
        failure -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    allowances (id) {
        id -> BigInt,
        public_id -> Text,
        merchant_id -> BigInt,
        customer_id -> BigInt,
        wallet_account_id -> BigInt,
        merchant_account_id -> BigInt,
        currency -> Text,
        cap_minor -> BigInt,
        spent_minor -> BigInt,
        per_charge_max_minor -> BigInt,
        expires_at -> BigInt,
        status -> Text,
        description -> Text,
        idempotency_key -> Nullable<Text>,
        fingerprint -> Nullable<Text>,
        request_expires_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    allowance_charges (transaction_id) {
        transaction_id -> BigInt,
        allowance_id -> BigInt,
        amount_minor -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    charge_summaries (customer_id, day_number) {
        customer_id -> BigInt,
        day_number -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> BigInt,
        public_id -> Text,
        merchant_id -> BigInt,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        claimed_until -> Nullable<BigInt>,
        deadline_at -> BigInt,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    api_request_signatures (signature) {
        signature -> Text,
        seen_at -> BigInt,
    }
}

diesel::table! {
    products (id) {
        id -> BigInt,
        merchant_id -> BigInt,
        sku -> Text,
        name -> Text,
        category -> Text,
        price_minor -> BigInt,
        currency -> Text,
        active -> Bool,
    }
}

diesel::joinable!(postings -> transactions (transaction_id));
diesel::joinable!(products -> merchants (merchant_id));
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    transactions,
    postings,
    pending_transfers,
    settings,
    customers,
    agents,
    merchants,
    products,
    sms_outbox,
    ussd_sessions,
    merchant_api_keys,
    customer_pseudonyms,
    payment_requests,
    allowances,
    allowance_charges,
    charge_summaries,
    webhook_events,
    api_request_signatures,
    gsma_requests,
    gsma_callbacks,
);

// The agent portal's tables (migration 000007), kept together at the end.
diesel::table! {
    portal_users (id) {
        id -> BigInt,
        login -> Text,
        name -> Text,
        role -> Text,
        agent_id -> Nullable<BigInt>,
        password_hash -> Text,
        must_change_password -> Bool,
        failed_attempts -> Integer,
        locked_until -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    portal_sessions (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
    }
}

diesel::table! {
    portal_audit (id) {
        id -> BigInt,
        at -> BigInt,
        user_id -> Nullable<BigInt>,
        login -> Text,
        action -> Text,
        detail -> Text,
        outcome -> Text,
    }
}

diesel::table! {
    float_requests (id) {
        id -> BigInt,
        agent_id -> BigInt,
        amount_minor -> BigInt,
        currency -> Text,
        trust_reference -> Text,
        status -> Text,
        recorded_by -> BigInt,
        recorded_at -> BigInt,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<BigInt>,
        transaction_id -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    portal_users,
    portal_sessions,
    portal_audit,
    float_requests,
    agents,
);

// The GSMA Mobile Money API's request states and callbacks (migration 000008).
diesel::table! {
    gsma_requests (id) {
        id -> BigInt,
        server_correlation_id -> Text,
        caller -> Text,
        merchant_id -> Nullable<BigInt>,
        correlation_id -> Nullable<Text>,
        fingerprint -> Text,
        operation -> Text,
        status -> Text,
        command -> Nullable<Text>,
        context -> Text,
        payment_request_id -> Nullable<BigInt>,
        allowance_id -> Nullable<BigInt>,
        object_reference -> Nullable<Text>,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        callback_url -> Nullable<Text>,
        claimed_until -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    gsma_callbacks (id) {
        id -> BigInt,
        request_id -> BigInt,
        merchant_id -> Nullable<BigInt>,
        url -> Text,
        correlation_id -> Nullable<Text>,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        claimed_until -> Nullable<BigInt>,
        deadline_at -> BigInt,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
    }
}
