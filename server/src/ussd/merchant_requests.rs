//! What merchants ask of a customer, as USSD Approvals show it: payment requests (`pr_…`) and
//! allowance requests (`al_…`). Approving a payment request pays it through the ledger, keyed
//! by the request, so approving twice pays once; approving an allowance request activates it.

use std::sync::Arc;

use diesel::prelude::*;
use mkoba_ledger::{Command, Money, Outcome, Rejection, TxnKind, TxnRequest};
use mkoba_ussd::engine::{AllowanceItem, ApprovalKind, ApprovalRequest, EffectResult, Receipt};
use serde_json::json;

use crate::app::App;
use crate::merchant::api::{allowance_event, announce, request_event};
use crate::merchant::store as mstore;
use crate::store::db::write_transaction;
use crate::store::parties::CustomerProfile;
use crate::store::schema::merchants;
use crate::store::{blocking, checkout, StoreError};
use crate::with_conn;

/// Approvals listed per kind.
const LISTED_MAX: i64 = 10;

/// `17/10`: the last day an allowance may be charged, as USSD shows it.
fn short_date(app: &App, micros: i64) -> String {
    let (date, _) = crate::sms::localtime::local_date_time(
        mkoba_ledger::Timestamp(micros.saturating_sub(1)),
        app.config.ledger.rules.utc_offset_seconds,
    );
    date.chars().take(5).collect()
}

pub fn is_merchant_request(id: &str) -> bool {
    id.starts_with("pr_") || id.starts_with("al_")
}

/// The customer's open payment and allowance requests.
pub async fn pending_for(
    app: &Arc<App>,
    customer_id: i64,
) -> Result<Vec<ApprovalRequest>, StoreError> {
    let app2 = Arc::clone(app);
    blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let now = app2.clock.now();
        let mut items = Vec::new();
        for (row, merchant) in
            mstore::open_requests_of_customer(&mut conn, customer_id, now.0, LISTED_MAX)?
        {
            let amount = row.amount()?;
            items.push(ApprovalRequest {
                id: row.public_id.clone(),
                kind: ApprovalKind::MerchantPayment,
                counterparty: merchant,
                amount,
                fee: Money::from_minor(0, amount.currency()),
                per_charge_max: None,
                until: None,
                description: Some(row.description.clone()),
            });
        }
        for (row, merchant) in
            mstore::allowances_of_customer(&mut conn, customer_id, &["requested"], LISTED_MAX)?
        {
            if row.request_expires_at.is_some_and(|t| t <= now.0) {
                continue;
            }
            let currency = crate::store::rows::currency(&row.currency)?;
            items.push(ApprovalRequest {
                id: row.public_id.clone(),
                kind: ApprovalKind::Allowance,
                counterparty: merchant,
                amount: Money::from_minor(row.cap_minor, currency),
                fee: Money::from_minor(0, currency),
                per_charge_max: Some(Money::from_minor(row.per_charge_max_minor, currency)),
                until: Some(short_date(&app2, row.expires_at)),
                description: Some(row.description.clone()),
            });
        }
        Ok(items)
    })
    .await
}

/// Approve (the PIN was checked by the caller) or decline one of the customer's requests.
pub async fn answer(
    app: &Arc<App>,
    customer: &CustomerProfile,
    request_id: &str,
    approve: bool,
    step_key: String,
) -> Result<EffectResult, StoreError> {
    if request_id.starts_with("al_") {
        return answer_allowance(app, customer, request_id, approve).await;
    }
    let app2 = Arc::clone(app);
    let id = request_id.to_owned();
    let customer_id = customer.id;
    let found = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let Some(row) = mstore::payment_request(&mut conn, &id)? else {
            return Ok(None);
        };
        if row.customer_id != customer_id {
            return Ok(None);
        }
        let account: i64 = with_conn!(&mut *conn, |c| merchants::table
            .filter(merchants::id.eq(row.merchant_id))
            .select(merchants::account_id)
            .get_result(c))?;
        Ok(Some((row, account)))
    })
    .await?;
    let Some((row, merchant_account)) = found else {
        return Ok(EffectResult::Rejected(Rejection::PendingNotFound));
    };
    let now = app.clock.now();
    match row.status.as_str() {
        "pending" if row.expires_at <= now.0 => {
            return Ok(EffectResult::Rejected(Rejection::PendingExpired))
        }
        "pending" => {}
        "paid" => return Ok(EffectResult::Rejected(Rejection::PendingAlreadyPosted)),
        "expired" => return Ok(EffectResult::Rejected(Rejection::PendingExpired)),
        _ => return Ok(EffectResult::Rejected(Rejection::PendingAlreadyVoided)),
    }
    if !approve {
        let app2 = Arc::clone(app);
        let declined = blocking(move || {
            let mut conn = checkout(&app2.pool)?;
            write_transaction(&mut conn, |conn| {
                if !mstore::close_payment_request(conn, &row.public_id, "declined", None, now.0)? {
                    return Ok(false);
                }
                let who = mstore::pseudonym(
                    conn,
                    &app2.merchant.pseudonym_key,
                    row.merchant_id,
                    row.customer_id,
                )?;
                let event = request_event(&row, &who);
                announce(
                    conn,
                    row.merchant_id,
                    "payment_request.declined",
                    event,
                    now,
                )?;
                Ok(true)
            })
        })
        .await?;
        return Ok(if declined {
            EffectResult::Done(Receipt {
                code: String::new(),
                amount: Money::from_minor(0, app.currency()),
                fee: Money::from_minor(0, app.currency()),
                new_balance: None,
            })
        } else {
            EffectResult::Rejected(Rejection::PendingAlreadyVoided)
        });
    }
    // The key is the request's, not the hop's: however often it is approved, it pays once.
    let _ = step_key;
    let command = Command::Submit(TxnRequest {
        idempotency_key: format!("payreq:{}", row.public_id),
        kind: TxnKind::MerchantPayment,
        debit: customer.wallet,
        credit: mkoba_ledger::AccountId(merchant_account),
        amount: row.amount()?,
        memo: row.description.chars().take(100).collect(),
        metadata: json!({ "payment_request": row.public_id }).to_string(),
        pending_expiry_seconds: None,
    });
    let receipt = match app.writer.submit(command).await? {
        Outcome::Accepted(r) | Outcome::Replayed(r) => r,
        Outcome::Rejected(r) => return Ok(EffectResult::Rejected(r)),
    };
    Ok(EffectResult::Done(Receipt {
        code: receipt.code,
        amount: receipt.amount,
        fee: Money::from_minor(0, receipt.amount.currency()),
        new_balance: None,
    }))
}

async fn answer_allowance(
    app: &Arc<App>,
    customer: &CustomerProfile,
    request_id: &str,
    approve: bool,
) -> Result<EffectResult, StoreError> {
    let app2 = Arc::clone(app);
    let id = request_id.to_owned();
    let customer_id = customer.id;
    let now = app.clock.now();
    let outcome = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        write_transaction(&mut conn, |conn| {
            let Some(mut row) = mstore::allowance(conn, &id)? else {
                return Ok(Err(Rejection::AllowanceNotFound));
            };
            if row.customer_id != customer_id || row.status != "requested" {
                return Ok(Err(Rejection::AllowanceNotFound));
            }
            if row.request_expires_at.is_some_and(|t| t <= now.0) {
                return Ok(Err(Rejection::PendingExpired));
            }
            let to = if approve { "active" } else { "declined" };
            if !mstore::set_allowance_status(conn, &row.public_id, "requested", to, now.0)? {
                return Ok(Err(Rejection::AllowanceNotFound));
            }
            row.status = to.into();
            let who = mstore::pseudonym(
                conn,
                &app2.merchant.pseudonym_key,
                row.merchant_id,
                row.customer_id,
            )?;
            let event_type = if approve {
                "allowance.active"
            } else {
                "allowance.declined"
            };
            announce(
                conn,
                row.merchant_id,
                event_type,
                allowance_event(&row, &who),
                now,
            )?;
            let currency = crate::store::rows::currency(&row.currency)?;
            let cap = Money::from_minor(row.cap_minor, currency);
            let name = merchant_name(conn, row.merchant_id)?;
            Ok(Ok((cap, name, short_date(&app2, row.expires_at))))
        })
    })
    .await?;
    Ok(match outcome {
        Ok((cap, merchant, until)) if approve => EffectResult::AllowanceGranted {
            merchant,
            cap,
            until,
        },
        Ok((cap, _, _)) => EffectResult::Done(Receipt {
            code: String::new(),
            amount: cap,
            fee: Money::from_minor(0, cap.currency()),
            new_balance: None,
        }),
        Err(rejection) => EffectResult::Rejected(rejection),
    })
}

fn merchant_name(
    conn: &mut crate::store::AnyConnection,
    merchant_id: i64,
) -> Result<String, StoreError> {
    Ok(with_conn!(conn, |c| merchants::table
        .filter(merchants::id.eq(merchant_id))
        .select(merchants::name)
        .get_result(c))?)
}

/// The customer's active allowances that can still be charged.
pub async fn list_allowances(
    app: &Arc<App>,
    customer: &CustomerProfile,
) -> Result<EffectResult, StoreError> {
    let app2 = Arc::clone(app);
    let customer_id = customer.id;
    blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let now = app2.clock.now().0;
        let mut items = Vec::new();
        for (row, merchant) in
            mstore::allowances_of_customer(&mut conn, customer_id, &["active"], LISTED_MAX)?
        {
            if row.expires_at <= now {
                continue;
            }
            let currency = crate::store::rows::currency(&row.currency)?;
            let m = |minor| Money::from_minor(minor, currency);
            items.push(AllowanceItem {
                id: row.public_id.clone(),
                merchant,
                cap: m(row.cap_minor),
                spent: m(row.spent_minor),
                per_charge_max: m(row.per_charge_max_minor),
                until: short_date(&app2, row.expires_at),
            });
        }
        Ok(EffectResult::Allowances(items))
    })
    .await
}

pub async fn revoke_allowance(
    app: &Arc<App>,
    customer: &CustomerProfile,
    id: &str,
) -> Result<EffectResult, StoreError> {
    let app2 = Arc::clone(app);
    let customer_id = customer.id;
    let id = id.to_owned();
    blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let now = app2.clock.now();
        write_transaction(&mut conn, |conn| {
            let Some(mut row) = mstore::allowance(conn, &id)? else {
                return Ok(EffectResult::Rejected(Rejection::AllowanceNotFound));
            };
            if row.customer_id != customer_id
                || !mstore::set_allowance_status(conn, &id, "active", "revoked", now.0)?
            {
                return Ok(EffectResult::Rejected(Rejection::AllowanceNotFound));
            }
            row.status = "revoked".into();
            let who = mstore::pseudonym(
                conn,
                &app2.merchant.pseudonym_key,
                row.merchant_id,
                row.customer_id,
            )?;
            announce(
                conn,
                row.merchant_id,
                "allowance.revoked",
                allowance_event(&row, &who),
                now,
            )?;
            Ok(EffectResult::AllowanceRevoked)
        })
    })
    .await
}

/// What a customer grants from USSD.
pub struct Terms {
    pub merchant_code: String,
    pub cap: Money,
    pub per_charge_max: Money,
    pub days: u32,
}

/// Grants an allowance the customer set up in USSD (the PIN was checked). The hop's step key
/// makes a repeated hop grant once.
pub async fn grant_allowance(
    app: &Arc<App>,
    customer: &CustomerProfile,
    terms: Terms,
    step_key: String,
) -> Result<EffectResult, StoreError> {
    let app2 = Arc::clone(app);
    let customer = customer.clone();
    blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let now = app2.clock.now();
        let Some((merchant_id, merchant_account)) =
            crate::store::parties::merchant_by_code(&mut conn, &terms.merchant_code)?
        else {
            return Ok(EffectResult::Rejected(Rejection::AccountNotFound));
        };
        let days_max = app2.config.merchant_api.allowance_days_max;
        let days = i64::from(terms.days);
        if !(1..=days_max).contains(&days) || terms.per_charge_max.minor() > terms.cap.minor() {
            return Ok(EffectResult::Rejected(Rejection::AmountExceedsMaximum));
        }
        if terms.cap.currency() != terms.per_charge_max.currency() {
            return Ok(EffectResult::Rejected(Rejection::CurrencyMismatch));
        }
        write_transaction(&mut conn, |conn| {
            let known = mstore::KnownCustomer {
                id: customer.id,
                wallet: customer.wallet,
                pseudonym: mstore::pseudonym(
                    conn,
                    &app2.merchant.pseudonym_key,
                    merchant_id,
                    customer.id,
                )?,
                msisdn: String::new(),
                language: customer.language.clone(),
            };
            let key: String = step_key.chars().take(64).collect();
            let row = match mstore::allowance_by_key(conn, merchant_id, &key)? {
                Some(row) => row,
                None => {
                    let created = mstore::create_allowance(
                        conn,
                        &mstore::NewAllowance {
                            merchant_id,
                            merchant_account,
                            customer: &known,
                            currency: terms.cap.currency(),
                            cap_minor: terms.cap.minor(),
                            per_charge_max_minor: terms.per_charge_max.minor(),
                            expires_at_us: now.saturating_add_seconds(days * 86_400).0,
                            description: "granted on USSD",
                            request: Some(mstore::AllowanceRequestKey {
                                idempotency_key: &key,
                                fingerprint: "ussd",
                                expires_at_us: now.0,
                            }),
                            now_us: now.0,
                        },
                    )?;
                    let mstore::Created::New(mut row) = created else {
                        return Err(StoreError::Conflict("allowance key reused".into()));
                    };
                    mstore::set_allowance_status(
                        conn,
                        &row.public_id,
                        "requested",
                        "active",
                        now.0,
                    )?;
                    row.status = "active".into();
                    announce(
                        conn,
                        merchant_id,
                        "allowance.active",
                        allowance_event(&row, &known.pseudonym),
                        now,
                    )?;
                    row
                }
            };
            Ok(EffectResult::AllowanceGranted {
                merchant: merchant_name(conn, merchant_id)?,
                cap: Money::from_minor(row.cap_minor, terms.cap.currency()),
                until: short_date(&app2, row.expires_at),
            })
        })
    })
    .await
}
