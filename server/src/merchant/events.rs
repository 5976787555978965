//! Webhook events, written in the same database transaction as the change they announce, so a
//! committed payment always gets its event and a rolled-back one never does.
//!
//! [`after_batch`] runs inside every ledger batch: it marks paid payment requests and queues
//! events for merchant payments, allowance charges and refunds. Batches with none of those
//! (most of them) return before touching the database.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use mkoba_ledger::{JournalEntry, Money, Phase, Timestamp, TxnCodes, TxnKind};
use serde_json::{json, Value};

use crate::merchant::store::{customer_by_wallet, pseudonym, split_events};
use crate::store::schema::{merchants, payment_requests, webhook_events};
use crate::store::{AnyConnection, StoreError};
use crate::with_conn;

/// Every event type a merchant can subscribe to.
pub const EVENT_TYPES: [&str; 10] = [
    "payment.received",
    "charge.succeeded",
    "refund.succeeded",
    "payment_request.paid",
    "payment_request.declined",
    "payment_request.expired",
    "allowance.active",
    "allowance.declined",
    "allowance.revoked",
    "allowance.lapsed",
];

/// How long the dispatcher keeps trying one event.
pub const DEADLINE_SECONDS: i64 = 24 * 3600;

/// Queues `event_type` for `merchant_id` if the merchant has a webhook URL and subscribed to it.
pub fn enqueue(
    conn: &mut AnyConnection,
    merchant_id: i64,
    event_type: &str,
    data: Value,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let settings: Option<(Option<String>, String)> = with_conn!(&mut *conn, |c| merchants::table
        .filter(merchants::id.eq(merchant_id))
        .select((merchants::webhook_url, merchants::webhook_events))
        .get_result(c)
        .optional())?;
    let Some((Some(_url), events)) = settings else {
        return Ok(false);
    };
    if !split_events(&events).iter().any(|e| e == event_type) {
        return Ok(false);
    }
    insert(conn, merchant_id, event_type, data, now)?;
    Ok(true)
}

fn insert(
    conn: &mut AnyConnection,
    merchant_id: i64,
    event_type: &str,
    data: Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    let public_id = format!("evt_{}", crate::secrets::random_token(20));
    let payload = json!({
        "id": public_id,
        "type": event_type,
        "created": now.0 / 1_000_000,
        "data": data,
    })
    .to_string();
    with_conn!(conn, |c| diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::public_id.eq(&public_id),
            webhook_events::merchant_id.eq(merchant_id),
            webhook_events::event_type.eq(event_type),
            webhook_events::payload.eq(&payload),
            webhook_events::status.eq("queued"),
            webhook_events::next_attempt_at.eq(now.0),
            webhook_events::deadline_at.eq(now.saturating_add_seconds(DEADLINE_SECONDS).0),
            webhook_events::created_at.eq(now.0),
        ))
        .execute(c))?;
    Ok(())
}

/// Amounts on the wire: major units as a string, with the currency beside them.
pub fn money_json(money: Money) -> Value {
    json!({ "amount": money.to_plain_string(), "currency": money.currency().code() })
}

fn metadata_str(entry: &JournalEntry, field: &str) -> Option<String> {
    if !entry.metadata.contains(field) {
        return None;
    }
    let value: Value = serde_json::from_str(&entry.metadata).ok()?;
    value.get(field)?.as_str().map(str::to_owned)
}

/// Adds `key` to a JSON object (event bodies are always objects).
fn set(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
}

/// Runs inside the ledger batch's transaction, after its rows are written.
pub fn after_batch(
    conn: &mut AnyConnection,
    pseudonym_key: Option<&[u8; 32]>,
    codes: &TxnCodes,
    entries: &[JournalEntry],
    now: Timestamp,
) -> Result<(), StoreError> {
    let merchant_entries: Vec<&JournalEntry> = entries
        .iter()
        .filter(|e| {
            matches!(
                e.receipt.kind,
                TxnKind::MerchantPayment | TxnKind::Purchase | TxnKind::Refund
            ) && matches!(e.receipt.phase, Phase::Posted | Phase::PostPending)
        })
        .collect();
    if merchant_entries.is_empty() {
        return Ok(());
    }
    let merchant_account = |e: &JournalEntry| {
        if e.receipt.kind == TxnKind::Refund {
            (e.receipt.debit.0, e.receipt.credit.0)
        } else {
            (e.receipt.credit.0, e.receipt.debit.0)
        }
    };
    let accounts: BTreeSet<i64> = merchant_entries
        .iter()
        .map(|e| merchant_account(e).0)
        .collect();
    let rows: Vec<(i64, i64, Option<String>, String)> =
        with_conn!(&mut *conn, |c| merchants::table
            .filter(merchants::account_id.eq_any(&accounts))
            .select((
                merchants::id,
                merchants::account_id,
                merchants::webhook_url,
                merchants::webhook_events,
            ))
            .load(c))?;
    let by_account: HashMap<i64, (i64, Vec<String>)> = rows
        .into_iter()
        .map(|(id, account, url, events)| {
            let events = if url.is_some() {
                split_events(&events)
            } else {
                Vec::new()
            };
            (account, (id, events))
        })
        .collect();
    for entry in merchant_entries {
        let (account, wallet) = merchant_account(entry);
        let Some((merchant_id, subscribed)) = by_account.get(&account) else {
            continue;
        };
        let r = &entry.receipt;
        let request = metadata_str(entry, "payment_request");
        let allowance = metadata_str(entry, "allowance");
        let mut events: Vec<(&str, Value)> = Vec::new();
        let base = json!({
            "transaction": r.code,
            "money": money_json(r.amount),
            "fee": money_json(Money::from_minor(r.fee_minor, r.amount.currency())),
            "memo": entry.memo,
        });
        if let Some(public_id) = &request {
            let updated = with_conn!(&mut *conn, |c| diesel::update(
                payment_requests::table
                    .filter(payment_requests::public_id.eq(public_id))
                    .filter(payment_requests::status.eq_any(["pending", "expired"]))
            )
            .set((
                payment_requests::status.eq("paid"),
                payment_requests::transaction_id.eq(Some(r.txn_id.0)),
                payment_requests::updated_at.eq(now.0),
            ))
            .execute(c))?;
            if updated == 1 {
                let mut data = base.clone();
                set(&mut data, "payment_request", json!(public_id));
                events.push(("payment_request.paid", data));
            }
        }
        let (kind, mut data) = match (r.kind, &allowance) {
            (TxnKind::Refund, _) => ("refund.succeeded", base.clone()),
            (_, Some(a)) => {
                let mut d = base.clone();
                set(&mut d, "allowance", json!(a));
                ("charge.succeeded", d)
            }
            _ => ("payment.received", base),
        };
        if let Some(original) = r.related {
            set(&mut data, "refund_of", json!(codes.code_for(original)));
        }
        events.push((kind, data));
        let wanted: Vec<(&str, Value)> = events
            .into_iter()
            .filter(|(t, _)| subscribed.iter().any(|s| s == t))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let customer = match (pseudonym_key, customer_by_wallet(conn, wallet)?) {
            (Some(key), Some(customer)) => Some(pseudonym(conn, key, *merchant_id, customer)?),
            _ => None,
        };
        for (event_type, mut data) in wanted {
            set(&mut data, "customer", json!(customer));
            insert(conn, *merchant_id, event_type, data, now)?;
        }
    }
    Ok(())
}
