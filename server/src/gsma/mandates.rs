//! Debit mandates, mapped onto allowances: `POST /accounts/{type}/{id}/debitmandates` asks the
//! customer for an allowance (they grant it with their PIN on USSD, so the answer is always a
//! `202` request state whose objectReference is the mandate's reference), and
//! `GET …/debitmandates/{reference}` shows it.
//!
//! `amountLimit` is the most one payment may take (the allowance's per-charge maximum);
//! `numberOfPayments` (or `gsma.mandate_payments_default`) times it is the allowance's cap;
//! `endDate` its expiry (at most `merchant_api.allowance_days_max` days ahead). The mandate takes
//! effect when granted; `startDate` is checked, and `frequencyType` is not enforced.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use mkoba_ledger::{Money, Timestamp, TxnKind};
use serde_json::{json, Value};

use crate::app::App;
use crate::gsma::parties::{authenticate, resolve, Caller, Owner, PartyRef};
use crate::gsma::requests::{self, NewRequest, Reserved};
use crate::gsma::transactions::respond;
use crate::gsma::wire::{Echo, MandateBody};
use crate::gsma::{
    callback_url, correlation_id, date_of, date_time, fingerprint, json as answer, parse_body,
    parse_date, parse_money, GsmaError,
};
use crate::merchant::store::{
    self as mstore, AllowanceRequestKey, AllowanceRow, Created, NewAllowance,
};
use crate::sms::templates::Message;
use crate::store::db::write_transaction;
use crate::store::{blocking, checkout, AnyConnection, StoreError};

/// `responseDebitMandate` for an allowance.
pub fn representation(app: &App, row: &AllowanceRow) -> Value {
    let currency = crate::store::rows::currency(&row.currency).unwrap_or(app.currency());
    let m = |minor| Money::from_minor(minor, currency).to_plain_string();
    json!({
        "mandateReference": row.public_id,
        "mandateStatus": if row.status == "active" { "active" } else { "inactive" },
        "payee": [{ "key": "walletid", "value": row.merchant_account_id.to_string() }],
        "amountLimit": m(row.per_charge_max_minor),
        "currency": row.currency,
        "startDate": date_of(Timestamp(row.created_at)),
        "endDate": date_of(Timestamp(row.expires_at)),
        "creationDate": date_time(Timestamp(row.created_at)),
        "modificationDate": date_time(Timestamp(row.updated_at)),
        "customData": [
            { "key": "mkobaStatus", "value": row.status },
            { "key": "cap", "value": m(row.cap_minor) },
            { "key": "remaining", "value": m(row.cap_minor.saturating_sub(row.spent_minor)) },
        ],
    })
}

struct Terms {
    per_payment: Money,
    cap: Money,
    valid_days: i64,
}

fn terms(app: &App, input: &MandateBody, today: i64) -> Result<Terms, GsmaError> {
    let limit = match &input.amount_limit {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(GsmaError::format("amountLimit must be a decimal string")),
        None => return Err(GsmaError::missing("amountLimit")),
    };
    let currency = input
        .currency
        .as_deref()
        .ok_or_else(|| GsmaError::missing("currency"))?;
    let per_payment = parse_money(app, &limit, currency, Some(TxnKind::Purchase))?;
    let cfg = &app.config.gsma;
    let payments = match &input.number_of_payments {
        None => cfg.mandate_payments_default,
        Some(n) => n
            .as_i64()
            .filter(|n| (1..=cfg.mandate_payments_max).contains(n))
            .ok_or_else(|| {
                GsmaError::format(format!(
                    "numberOfPayments must be a whole number from 1 to {}",
                    cfg.mandate_payments_max
                ))
            })?,
    };
    let cap_minor = per_payment
        .minor()
        .checked_mul(payments)
        .ok_or_else(|| GsmaError::from(mkoba_ledger::Rejection::AmountOverflow))?;
    let start = input
        .start_date
        .as_deref()
        .ok_or_else(|| GsmaError::missing("startDate"))?;
    let start =
        parse_date(start).ok_or_else(|| GsmaError::format("startDate must be YYYY-MM-DD"))?;
    let days_max = app.config.merchant_api.allowance_days_max;
    let valid_days = match input.end_date.as_deref() {
        None => days_max,
        Some(end) => {
            let end =
                parse_date(end).ok_or_else(|| GsmaError::format("endDate must be YYYY-MM-DD"))?;
            if end < start {
                return Err(GsmaError::format("endDate is before startDate"));
            }
            let days = end.saturating_sub(today);
            if !(1..=days_max).contains(&days) {
                return Err(GsmaError::format(format!(
                    "endDate must be 1 to {days_max} days from today"
                )));
            }
            days
        }
    };
    Ok(Terms {
        per_payment,
        cap: Money::from_minor(cap_minor, per_payment.currency()),
        valid_days,
    })
}

pub async fn create(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, GsmaError> {
    let app: Arc<App> = Arc::clone(&app);
    let caller = authenticate(&app, &req, &body).await?;
    let Some(merchant) = caller.merchant().cloned() else {
        return Err(GsmaError::not_entitled(
            "debit mandates are granted by customers to merchants; use a merchant key",
        ));
    };
    let correlation = correlation_id(&req)?;
    let callback = callback_url(&req)?;
    let input: MandateBody = parse_body(&body)?;
    let print = fingerprint(&req, &body);
    let today = app
        .clock
        .now()
        .0
        .div_euclid(86_400 * Timestamp::MICROS_PER_SECOND);
    let terms = terms(&app, &input, today)?;
    let path = path.into_inner();
    let payee = PartyRef::of(input.payee.as_deref());
    let echo = Echo {
        viewer: Some(caller.viewer()),
        kind: "debitmandate".into(),
        ..Echo::default()
    };
    let context = serde_json::to_string(&echo)
        .map_err(|e| StoreError::Conflict(format!("context encoding: {e}")))?;
    let app2 = Arc::clone(&app);
    let caller_key = caller.key();
    let reserved = blocking(move || {
        let app = app2;
        let mut conn = checkout(&app.pool)?;
        let payer = match resolve(&app, &mut conn, &caller, &path.0, &path.1) {
            Ok(h) => h,
            Err(e) => return Ok(Err(e)),
        };
        if !payee.is_empty() {
            match payee.resolve(&app, &mut conn, &caller, "payee") {
                Ok(p) if p.is_own(&caller) => {}
                Ok(_) | Err(_) => {
                    return Ok(Err(GsmaError::not_entitled(
                        "the payee of a mandate must be the calling merchant",
                    )))
                }
            }
        }
        let msisdn = match &payer.owner {
            Owner::Customer { msisdn, .. } => msisdn.clone(),
            Owner::Merchant { .. } | Owner::Agent { .. } => {
                return Ok(Err(GsmaError::transaction_type(
                    "debit mandates are on customer wallets",
                )))
            }
        };
        let Some(customer) = mstore::find_customer(
            &mut conn,
            &app.merchant.pseudonym_key,
            merchant.id,
            mstore::CustomerRef::Msisdn(&msisdn),
        )?
        else {
            return Ok(Err(GsmaError::not_found("account")));
        };
        let now = app.clock.now();
        write_transaction(&mut conn, |conn| {
            let reserved = requests::reserve(
                conn,
                &NewRequest {
                    caller: &caller_key,
                    merchant_id: Some(merchant.id),
                    correlation_id: &correlation,
                    fingerprint: &print,
                    operation: "debitmandate",
                    command: None,
                    context,
                    callback_url: callback.as_deref(),
                    // Nothing to run: the jobs look at it when the customer answers.
                    claimed_until: 0,
                    now,
                },
            )?;
            let Reserved::New(row) = reserved else {
                return Ok(Ok(reserved));
            };
            let key = format!("gsma:{correlation}");
            let created = mstore::create_allowance(
                conn,
                &NewAllowance {
                    merchant_id: merchant.id,
                    merchant_account: mkoba_ledger::AccountId(merchant.account_id),
                    customer: &customer,
                    currency: terms.cap.currency(),
                    cap_minor: terms.cap.minor(),
                    per_charge_max_minor: terms.per_payment.minor(),
                    expires_at_us: now.saturating_add_seconds(terms.valid_days * 86_400).0,
                    description: "Debit mandate",
                    request: Some(AllowanceRequestKey {
                        idempotency_key: &key,
                        fingerprint: &print,
                        expires_at_us: now
                            .saturating_add_seconds(
                                app.config.merchant_api.allowance_request_ttl_seconds,
                            )
                            .0,
                    }),
                    now_us: now.0,
                },
            )?;
            let allowance = match created {
                Created::New(a) => {
                    let prompt = Message::AllowanceRequest {
                        merchant: crate::merchant::api::short(&merchant.name),
                        cap: terms.cap,
                    };
                    crate::merchant::api::queue_sms(&app, conn, &customer, &prompt, now)?;
                    a
                }
                Created::Existing(a) => a,
                Created::Conflict => {
                    return Err(StoreError::Conflict("allowance key reused".into()))
                }
            };
            requests::link(
                conn,
                row.id,
                None,
                Some(allowance.id),
                Some(&allowance.public_id),
            )?;
            let row = requests::by_id(conn, row.id)?
                .ok_or_else(|| StoreError::Conflict("request state vanished".into()))?;
            Ok(Ok(Reserved::New(row)))
        })
    })
    .await??;
    let now = app.clock.now();
    match reserved {
        Reserved::Conflict => Err(GsmaError::duplicate()),
        Reserved::Repeat(row) | Reserved::New(row) => Ok(respond(&row, now)),
    }
}

fn visible_mandate(
    app: &App,
    conn: &mut AnyConnection,
    caller: &Caller,
    path: &(String, String, String),
) -> Result<Result<AllowanceRow, GsmaError>, StoreError> {
    let holder = match resolve(app, conn, caller, &path.0, &path.1) {
        Ok(h) => h,
        Err(e) => return Ok(Err(e)),
    };
    let row = mstore::allowance(conn, &path.2)?.filter(|a| {
        a.wallet_account_id == holder.account.id
            && caller.merchant().is_none_or(|m| m.id == a.merchant_id)
    });
    Ok(row.ok_or_else(|| GsmaError::not_found("debit mandate")))
}

pub async fn view(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, GsmaError> {
    let app: Arc<App> = Arc::clone(&app);
    let caller = authenticate(&app, &req, &[]).await?;
    let path = path.into_inner();
    let app2 = Arc::clone(&app);
    let row = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        visible_mandate(&app2, &mut conn, &caller, &path)
    })
    .await??;
    Ok(answer(
        StatusCode::OK,
        app.clock.now(),
        &representation(&app, &row),
    ))
}
