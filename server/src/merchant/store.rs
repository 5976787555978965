//! Rows of the merchant API: customers as a merchant sees them (pseudonyms), payment requests
//! and allowances. Money moves only through the ledger writer; these rows say what was asked.

use diesel::prelude::*;
use mkoba_ledger::{AccountId, Currency, Money};
use serde::Serialize;

use crate::merchant::auth::hmac_hex;
use crate::store::rows::currency;
use crate::store::schema::{
    allowances, customer_pseudonyms, customers, merchants, payment_requests,
};
use crate::store::{AnyConnection, StoreError};
use crate::with_conn;

/// A customer as one merchant may know them: never the number or the name.
#[derive(Clone, Debug)]
pub struct KnownCustomer {
    pub id: i64,
    pub wallet: AccountId,
    pub pseudonym: String,
    /// For our own SMS only; never returned to the merchant.
    pub msisdn: String,
    pub language: String,
}

/// `cus_` and 96 bits of a keyed hash of (merchant, customer): stable for one merchant, and
/// unlinkable across merchants without the key.
pub fn pseudonym_of(key: &[u8; 32], merchant_id: i64, customer_id: i64) -> String {
    let digest = hmac_hex(key, &[format!("{merchant_id}:{customer_id}").as_bytes()]);
    format!("cus_{}", digest.get(..24).unwrap_or(&digest))
}

/// The customer's pseudonym for this merchant, recorded so the merchant can address them by it.
pub fn pseudonym(
    conn: &mut AnyConnection,
    key: &[u8; 32],
    merchant_id: i64,
    customer_id: i64,
) -> Result<String, StoreError> {
    let pseudonym = pseudonym_of(key, merchant_id, customer_id);
    with_conn!(conn, |c| diesel::insert_into(customer_pseudonyms::table)
        .values((
            customer_pseudonyms::merchant_id.eq(merchant_id),
            customer_pseudonyms::customer_id.eq(customer_id),
            customer_pseudonyms::pseudonym.eq(&pseudonym),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(pseudonym)
}

pub enum CustomerRef<'a> {
    /// E.164, already normalised.
    Msisdn(&'a str),
    Pseudonym(&'a str),
}

pub fn find_customer(
    conn: &mut AnyConnection,
    key: &[u8; 32],
    merchant_id: i64,
    by: CustomerRef<'_>,
) -> Result<Option<KnownCustomer>, StoreError> {
    type Row = (i64, i64, String, String);
    let select = (
        customers::id,
        customers::wallet_account_id,
        customers::msisdn,
        customers::language,
    );
    let row: Option<Row> = match by {
        CustomerRef::Msisdn(msisdn) => with_conn!(conn, |c| customers::table
            .filter(customers::msisdn.eq(msisdn))
            .select(select)
            .get_result(c)
            .optional())?,
        CustomerRef::Pseudonym(pseudonym) => with_conn!(conn, |c| customers::table
            .inner_join(
                customer_pseudonyms::table.on(customer_pseudonyms::customer_id.eq(customers::id))
            )
            .filter(customer_pseudonyms::merchant_id.eq(merchant_id))
            .filter(customer_pseudonyms::pseudonym.eq(pseudonym))
            .select(select)
            .get_result(c)
            .optional())?,
    };
    let Some((id, wallet, msisdn, language)) = row else {
        return Ok(None);
    };
    Ok(Some(KnownCustomer {
        id,
        wallet: AccountId(wallet),
        pseudonym: pseudonym(conn, key, merchant_id, id)?,
        msisdn,
        language,
    }))
}

/// The customer behind a wallet account, for events about ledger entries.
pub fn customer_by_wallet(
    conn: &mut AnyConnection,
    wallet: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(with_conn!(conn, |c| customers::table
        .filter(customers::wallet_account_id.eq(wallet))
        .select(customers::id)
        .get_result(c)
        .optional())?)
}

/// The pseudonym (for this merchant) of the customer who owns `wallet`; `None` when the account
/// is not a customer's (an agent's float, another merchant).
pub fn pseudonym_of_wallet(
    conn: &mut AnyConnection,
    key: &[u8; 32],
    merchant_id: i64,
    wallet: i64,
) -> Result<Option<String>, StoreError> {
    match customer_by_wallet(conn, wallet)? {
        Some(customer) => Ok(Some(pseudonym(conn, key, merchant_id, customer)?)),
        None => Ok(None),
    }
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = payment_requests)]
pub struct PaymentRequestRow {
    pub id: i64,
    pub public_id: String,
    pub merchant_id: i64,
    pub customer_id: i64,
    pub idempotency_key: String,
    pub fingerprint: String,
    pub amount_minor: i64,
    pub currency: String,
    pub description: String,
    pub status: String,
    pub transaction_id: Option<i64>,
    pub failure: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub updated_at: i64,
}

impl PaymentRequestRow {
    pub fn amount(&self) -> Result<Money, StoreError> {
        Ok(Money::from_minor(
            self.amount_minor,
            currency(&self.currency)?,
        ))
    }
}

pub struct NewPaymentRequest<'a> {
    pub merchant_id: i64,
    pub customer_id: i64,
    pub idempotency_key: &'a str,
    pub fingerprint: &'a str,
    pub amount: Money,
    pub description: &'a str,
    pub now_us: i64,
    pub expires_at_us: i64,
}

/// What an idempotent create found.
pub enum Created<T> {
    New(T),
    /// The same request again: the row made the first time.
    Existing(T),
    /// The key was used for a different request.
    Conflict,
}

pub fn payment_request_by_key(
    conn: &mut AnyConnection,
    merchant_id: i64,
    key: &str,
) -> Result<Option<PaymentRequestRow>, StoreError> {
    Ok(with_conn!(conn, |c| payment_requests::table
        .filter(payment_requests::merchant_id.eq(merchant_id))
        .filter(payment_requests::idempotency_key.eq(key))
        .select(PaymentRequestRow::as_select())
        .first(c)
        .optional())?)
}

pub fn create_payment_request(
    conn: &mut AnyConnection,
    new: &NewPaymentRequest<'_>,
) -> Result<Created<PaymentRequestRow>, StoreError> {
    if let Some(row) = payment_request_by_key(conn, new.merchant_id, new.idempotency_key)? {
        return Ok(if row.fingerprint == new.fingerprint {
            Created::Existing(row)
        } else {
            Created::Conflict
        });
    }
    let public_id = format!("pr_{}", crate::secrets::random_token(20));
    let inserted = with_conn!(conn, |c| diesel::insert_into(payment_requests::table)
        .values((
            payment_requests::public_id.eq(&public_id),
            payment_requests::merchant_id.eq(new.merchant_id),
            payment_requests::customer_id.eq(new.customer_id),
            payment_requests::idempotency_key.eq(new.idempotency_key),
            payment_requests::fingerprint.eq(new.fingerprint),
            payment_requests::amount_minor.eq(new.amount.minor()),
            payment_requests::currency.eq(new.amount.currency().code()),
            payment_requests::description.eq(new.description),
            payment_requests::status.eq("pending"),
            payment_requests::created_at.eq(new.now_us),
            payment_requests::expires_at.eq(new.expires_at_us),
            payment_requests::updated_at.eq(new.now_us),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    // Lost a race with the same key: answer as a replay (or a conflict).
    let row = payment_request_by_key(conn, new.merchant_id, new.idempotency_key)?
        .ok_or_else(|| StoreError::Conflict("payment request vanished".into()))?;
    Ok(if inserted == 1 {
        Created::New(row)
    } else if row.fingerprint == new.fingerprint {
        Created::Existing(row)
    } else {
        Created::Conflict
    })
}

pub fn payment_request(
    conn: &mut AnyConnection,
    public_id: &str,
) -> Result<Option<PaymentRequestRow>, StoreError> {
    Ok(with_conn!(conn, |c| payment_requests::table
        .filter(payment_requests::public_id.eq(public_id))
        .select(PaymentRequestRow::as_select())
        .first(c)
        .optional())?)
}

/// Moves a request out of `pending`; `false` if it had already left it.
pub fn close_payment_request(
    conn: &mut AnyConnection,
    public_id: &str,
    status: &str,
    failure: Option<&str>,
    now_us: i64,
) -> Result<bool, StoreError> {
    let updated = with_conn!(conn, |c| diesel::update(
        payment_requests::table
            .filter(payment_requests::public_id.eq(public_id))
            .filter(payment_requests::status.eq("pending"))
    )
    .set((
        payment_requests::status.eq(status),
        payment_requests::failure.eq(failure),
        payment_requests::updated_at.eq(now_us),
    ))
    .execute(c))?;
    Ok(updated == 1)
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = allowances)]
pub struct AllowanceRow {
    pub id: i64,
    pub public_id: String,
    pub merchant_id: i64,
    pub customer_id: i64,
    pub wallet_account_id: i64,
    pub merchant_account_id: i64,
    pub currency: String,
    pub cap_minor: i64,
    pub spent_minor: i64,
    pub per_charge_max_minor: i64,
    pub expires_at: i64,
    pub status: String,
    pub description: String,
    pub idempotency_key: Option<String>,
    pub fingerprint: Option<String>,
    pub request_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct NewAllowance<'a> {
    pub merchant_id: i64,
    pub merchant_account: AccountId,
    pub customer: &'a KnownCustomer,
    pub currency: Currency,
    pub cap_minor: i64,
    pub per_charge_max_minor: i64,
    pub expires_at_us: i64,
    pub description: &'a str,
    /// `Some` for a merchant's request (waits for the customer's PIN); `None` when the customer
    /// grants it directly (already PIN-checked).
    pub request: Option<AllowanceRequestKey<'a>>,
    pub now_us: i64,
}

pub struct AllowanceRequestKey<'a> {
    pub idempotency_key: &'a str,
    pub fingerprint: &'a str,
    pub expires_at_us: i64,
}

pub fn allowance_by_key(
    conn: &mut AnyConnection,
    merchant_id: i64,
    key: &str,
) -> Result<Option<AllowanceRow>, StoreError> {
    Ok(with_conn!(conn, |c| allowances::table
        .filter(allowances::merchant_id.eq(merchant_id))
        .filter(allowances::idempotency_key.eq(key))
        .select(AllowanceRow::as_select())
        .first(c)
        .optional())?)
}

pub fn create_allowance(
    conn: &mut AnyConnection,
    new: &NewAllowance<'_>,
) -> Result<Created<AllowanceRow>, StoreError> {
    if let Some(req) = &new.request {
        if let Some(row) = allowance_by_key(conn, new.merchant_id, req.idempotency_key)? {
            return Ok(if row.fingerprint.as_deref() == Some(req.fingerprint) {
                Created::Existing(row)
            } else {
                Created::Conflict
            });
        }
    }
    let public_id = format!("al_{}", crate::secrets::random_token(20));
    let status = if new.request.is_some() {
        "requested"
    } else {
        "active"
    };
    with_conn!(conn, |c| diesel::insert_into(allowances::table)
        .values((
            allowances::public_id.eq(&public_id),
            allowances::merchant_id.eq(new.merchant_id),
            allowances::customer_id.eq(new.customer.id),
            allowances::wallet_account_id.eq(new.customer.wallet.0),
            allowances::merchant_account_id.eq(new.merchant_account.0),
            allowances::currency.eq(new.currency.code()),
            allowances::cap_minor.eq(new.cap_minor),
            allowances::per_charge_max_minor.eq(new.per_charge_max_minor),
            allowances::expires_at.eq(new.expires_at_us),
            allowances::status.eq(status),
            allowances::description.eq(new.description),
            allowances::idempotency_key.eq(new.request.as_ref().map(|r| r.idempotency_key)),
            allowances::fingerprint.eq(new.request.as_ref().map(|r| r.fingerprint)),
            allowances::request_expires_at.eq(new.request.as_ref().map(|r| r.expires_at_us)),
            allowances::created_at.eq(new.now_us),
            allowances::updated_at.eq(new.now_us),
        ))
        .execute(c))?;
    let row = allowance(conn, &public_id)?
        .ok_or_else(|| StoreError::Conflict("allowance vanished".into()))?;
    Ok(Created::New(row))
}

pub fn allowance(
    conn: &mut AnyConnection,
    public_id: &str,
) -> Result<Option<AllowanceRow>, StoreError> {
    Ok(with_conn!(conn, |c| allowances::table
        .filter(allowances::public_id.eq(public_id))
        .select(AllowanceRow::as_select())
        .first(c)
        .optional())?)
}

/// Moves an allowance from `from` to `to`; `false` if it was not in `from`.
pub fn set_allowance_status(
    conn: &mut AnyConnection,
    public_id: &str,
    from: &str,
    to: &str,
    now_us: i64,
) -> Result<bool, StoreError> {
    let updated = with_conn!(conn, |c| diesel::update(
        allowances::table
            .filter(allowances::public_id.eq(public_id))
            .filter(allowances::status.eq(from))
    )
    .set((allowances::status.eq(to), allowances::updated_at.eq(now_us)))
    .execute(c))?;
    Ok(updated == 1)
}

pub fn allowances_of_merchant(
    conn: &mut AnyConnection,
    merchant_id: i64,
    customer_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AllowanceRow>, StoreError> {
    Ok(with_conn!(conn, |c| {
        let mut q = allowances::table
            .filter(allowances::merchant_id.eq(merchant_id))
            .into_boxed();
        if let Some(customer) = customer_id {
            q = q.filter(allowances::customer_id.eq(customer));
        }
        q.order(allowances::id.desc())
            .limit(limit)
            .select(AllowanceRow::as_select())
            .load(c)
    })?)
}

/// A customer's allowances in `statuses`, with the merchant's name.
pub fn allowances_of_customer(
    conn: &mut AnyConnection,
    customer_id: i64,
    statuses: &[&str],
    limit: i64,
) -> Result<Vec<(AllowanceRow, String)>, StoreError> {
    Ok(with_conn!(conn, |c| allowances::table
        .inner_join(merchants::table.on(merchants::id.eq(allowances::merchant_id)))
        .filter(allowances::customer_id.eq(customer_id))
        .filter(allowances::status.eq_any(statuses))
        .order(allowances::id)
        .limit(limit)
        .select((AllowanceRow::as_select(), merchants::name))
        .load(c))?)
}

/// A customer's open payment requests, with the merchant's name.
pub fn open_requests_of_customer(
    conn: &mut AnyConnection,
    customer_id: i64,
    now_us: i64,
    limit: i64,
) -> Result<Vec<(PaymentRequestRow, String)>, StoreError> {
    Ok(with_conn!(conn, |c| payment_requests::table
        .inner_join(merchants::table.on(merchants::id.eq(payment_requests::merchant_id)))
        .filter(payment_requests::customer_id.eq(customer_id))
        .filter(payment_requests::status.eq("pending"))
        .filter(payment_requests::expires_at.gt(now_us))
        .order(payment_requests::id)
        .limit(limit)
        .select((PaymentRequestRow::as_select(), merchants::name))
        .load(c))?)
}

/// Requests and allowance requests past their time, at most `limit` of each.
pub fn due_to_lapse(
    conn: &mut AnyConnection,
    now_us: i64,
    limit: i64,
) -> Result<(Vec<PaymentRequestRow>, Vec<AllowanceRow>), StoreError> {
    let requests = with_conn!(conn, |c| payment_requests::table
        .filter(payment_requests::status.eq("pending"))
        .filter(payment_requests::expires_at.le(now_us))
        .order(payment_requests::expires_at)
        .limit(limit)
        .select(PaymentRequestRow::as_select())
        .load(c))?;
    let allowance_rows = with_conn!(conn, |c| allowances::table
        .filter(allowances::status.eq("requested"))
        .filter(allowances::request_expires_at.le(now_us))
        .limit(limit)
        .select(AllowanceRow::as_select())
        .load(c))?;
    Ok((requests, allowance_rows))
}

/// A merchant's settings for webhooks and signing.
#[derive(Clone, Debug, Serialize)]
pub struct WebhookSettings {
    pub url: Option<String>,
    pub events: Vec<String>,
}

pub fn webhook_settings(
    conn: &mut AnyConnection,
    merchant_id: i64,
) -> Result<WebhookSettings, StoreError> {
    let (url, events): (Option<String>, String) = with_conn!(conn, |c| merchants::table
        .filter(merchants::id.eq(merchant_id))
        .select((merchants::webhook_url, merchants::webhook_events))
        .first(c))?;
    Ok(WebhookSettings {
        url,
        events: split_events(&events),
    })
}

pub fn split_events(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn set_webhook(
    conn: &mut AnyConnection,
    merchant_id: i64,
    url: Option<&str>,
    events: &[String],
) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::update(
        merchants::table.filter(merchants::id.eq(merchant_id))
    )
    .set((
        merchants::webhook_url.eq(url),
        merchants::webhook_events.eq(events.join(",")),
    ))
    .execute(c))?;
    Ok(())
}

/// Sets (or replaces) the merchant's signing secret and whether unsigned requests are refused.
pub fn set_signing(
    conn: &mut AnyConnection,
    merchant_id: i64,
    secret: &str,
    require_signature: bool,
) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::update(
        merchants::table.filter(merchants::id.eq(merchant_id))
    )
    .set((
        merchants::signing_secret.eq(Some(secret)),
        merchants::require_signature.eq(require_signature),
    ))
    .execute(c))?;
    Ok(())
}
