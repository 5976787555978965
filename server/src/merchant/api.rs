//! Payment requests and allowances: what a merchant asks of a customer, and the charges a
//! granted allowance lets it make without a PIN.

use std::sync::Arc;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use diesel::RunQueryDsl;
use mkoba_ledger::{AllowanceId, Command, Money, Timestamp, TxnKind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::app::App;
use crate::http::error::ApiError;
use crate::merchant::events::{enqueue, money_json};
use crate::merchant::store::{
    self as mstore, AllowanceRequestKey, AllowanceRow, Created, CustomerRef, NewAllowance,
    NewPaymentRequest, PaymentRequestRow,
};
use crate::merchant::{
    authenticate, created_or_replayed, fingerprint, idempotency_key, iso_time, ledger_key,
    parse_body, parse_money, receipt_of, Amount, ErrorBody,
};
use crate::sms::notify::NewOutboxRow;
use crate::sms::templates::{Language, Message};
use crate::store::schema::sms_outbox;
use crate::store::{blocking, checkout, db::write_transaction, AnyConnection, StoreError};
use crate::with_conn;

/// Whom a request is for: the customer's phone number (which the merchant got from the customer)
/// or the pseudonym mkoba gave the merchant. Exactly one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// E.164 or national format, e.g. `+254700000001`.
    #[schema(max_length = 20)]
    pub phone_number: Option<String>,
    #[schema(max_length = 40)]
    pub pseudonym: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPaymentRequestBody {
    pub customer: CustomerInput,
    pub amount: Amount,
    #[schema(min_length = 1, max_length = 100)]
    pub description: String,
    /// How long the customer has to approve; the configured maximum when absent.
    #[schema(minimum = 60, maximum = 86400)]
    pub expires_in_seconds: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentRequestBody {
    pub id: String,
    /// The customer's pseudonym for this merchant.
    pub customer: String,
    pub amount: Amount,
    pub description: String,
    /// `pending`, `paid`, `declined`, `expired` or `failed`.
    pub status: String,
    /// The ledger transaction code once paid.
    pub transaction: Option<String>,
    pub created_at: String,
    pub expires_at: String,
}

fn request_body(app: &App, row: &PaymentRequestRow, pseudonym: String) -> PaymentRequestBody {
    PaymentRequestBody {
        id: row.public_id.clone(),
        customer: pseudonym,
        amount: Amount::of(row.amount().unwrap_or(Money::from_minor(0, app.currency()))),
        description: row.description.clone(),
        status: row.status.clone(),
        transaction: row
            .transaction_id
            .map(|t| app.ledger.codes.code_for(mkoba_ledger::TxnId(t))),
        created_at: iso_time(row.created_at),
        expires_at: iso_time(row.expires_at),
    }
}

fn find_customer(
    app: &App,
    conn: &mut AnyConnection,
    merchant_id: i64,
    input: &CustomerInput,
) -> Result<mstore::KnownCustomer, ApiError> {
    let found = match (&input.phone_number, &input.pseudonym) {
        (Some(number), None) => {
            let msisdn = crate::phone::Msisdn::parse(number, app.country)
                .map_err(|_| ApiError::InvalidPhone)?;
            mstore::find_customer(
                conn,
                &app.merchant.pseudonym_key,
                merchant_id,
                CustomerRef::Msisdn(msisdn.as_str()),
            )?
        }
        (None, Some(pseudonym)) if pseudonym.len() <= 40 => mstore::find_customer(
            conn,
            &app.merchant.pseudonym_key,
            merchant_id,
            CustomerRef::Pseudonym(pseudonym),
        )?,
        _ => {
            return Err(ApiError::InvalidRequest {
                message: "customer needs exactly one of phone_number and pseudonym".into(),
            })
        }
    };
    found.ok_or(ApiError::CustomerNotFound)
}

fn language(code: &str) -> Language {
    Language::from_code(code).unwrap_or(Language::En)
}

pub(crate) fn queue_sms(
    app: &App,
    conn: &mut AnyConnection,
    customer: &mstore::KnownCustomer,
    message: &Message,
    now: Timestamp,
) -> Result<(), StoreError> {
    let row = NewOutboxRow::new(
        &customer.msisdn,
        message,
        language(&customer.language),
        None,
        now,
        &app.notify,
    );
    with_conn!(conn, |c| diesel::insert_into(sms_outbox::table)
        .values(std::slice::from_ref(&row))
        .execute(c))?;
    Ok(())
}

pub(crate) fn short(name: &str) -> String {
    name.chars().take(20).collect()
}

pub(crate) fn validate_description(text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 100 || text.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest {
            message: "description must be 1 to 100 printable characters".into(),
        });
    }
    Ok(text.to_owned())
}

/// Ask a customer to pay. They approve (with their PIN) or decline in USSD Approvals, prompted
/// by SMS; the request lapses after its expiry.
#[utoipa::path(post, path = "/api/v1/payment-requests", tag = "payment requests",
    request_body = NewPaymentRequestBody,
    params(("Idempotency-Key" = String, Header, description = "Unique per request, at most 48 characters")),
    responses(
        (status = 201, description = "Created", body = PaymentRequestBody),
        (status = 200, description = "The same request again", body = PaymentRequestBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[post("/payment-requests")]
pub async fn create_payment_request(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &body).await?;
    let input: NewPaymentRequestBody = parse_body(&body)?;
    let key = idempotency_key(&req)?;
    let amount = parse_money(&app, &input.amount, Some(TxnKind::MerchantPayment))?;
    let description = validate_description(&input.description)?;
    let ttl_max = app.config.merchant_api.payment_request_ttl_seconds;
    let ttl = input.expires_in_seconds.unwrap_or(ttl_max);
    if !(60..=ttl_max).contains(&ttl) {
        return Err(ApiError::InvalidRequest {
            message: format!("expires_in_seconds must be between 60 and {ttl_max}"),
        });
    }
    let print = fingerprint(&body);
    let app2 = Arc::clone(&app);
    let (row, pseudonym, fresh) = blocking(move || {
        let app = app2;
        let mut conn = checkout(&app.pool)?;
        let now = app.clock.now();
        write_transaction(&mut conn, |conn| {
            let customer = match find_customer(&app, conn, merchant.id, &input.customer) {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            let created = mstore::create_payment_request(
                conn,
                &NewPaymentRequest {
                    merchant_id: merchant.id,
                    customer_id: customer.id,
                    idempotency_key: &key,
                    fingerprint: &print,
                    amount,
                    description: &description,
                    now_us: now.0,
                    expires_at_us: now.saturating_add_seconds(ttl).0,
                },
            )?;
            Ok(match created {
                Created::New(row) => {
                    let prompt = Message::PaymentRequest {
                        merchant: short(&merchant.name),
                        amount,
                    };
                    queue_sms(&app, conn, &customer, &prompt, now)?;
                    Ok((row, customer.pseudonym, true))
                }
                Created::Existing(row) => Ok((row, customer.pseudonym, false)),
                Created::Conflict => Err(ApiError::IdempotencyConflict),
            })
        })
    })
    .await??;
    let body = request_body(&app, &row, pseudonym);
    Ok(if fresh {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

#[utoipa::path(get, path = "/api/v1/payment-requests/{id}", tag = "payment requests",
    params(("id" = String, Path, description = "The request's id (`pr_…`)")),
    responses((status = 200, body = PaymentRequestBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/payment-requests/{id}")]
pub async fn get_payment_request(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &[]).await?;
    let id = path.into_inner();
    let app2 = Arc::clone(&app);
    let found = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let Some(row) = mstore::payment_request(&mut conn, &id)? else {
            return Ok(None);
        };
        if row.merchant_id != merchant.id {
            return Ok(None);
        }
        let pseudonym = mstore::pseudonym(
            &mut conn,
            &app2.merchant.pseudonym_key,
            merchant.id,
            row.customer_id,
        )?;
        Ok(Some((row, pseudonym)))
    })
    .await?;
    let (row, pseudonym) = found.ok_or(ApiError::NotFound("payment request"))?;
    Ok(HttpResponse::Ok().json(request_body(&app, &row, pseudonym)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAllowanceBody {
    pub customer: CustomerInput,
    /// The most the merchant may charge in all.
    pub cap: Amount,
    /// The most one charge may be.
    pub per_charge_max: Amount,
    #[schema(minimum = 1, maximum = 365)]
    pub valid_days: i64,
    #[schema(min_length = 1, max_length = 100)]
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllowanceBody {
    pub id: String,
    pub customer: String,
    pub cap: Amount,
    pub spent: Amount,
    pub remaining: Amount,
    pub per_charge_max: Amount,
    /// `requested`, `active`, `revoked`, `declined` or `lapsed`.
    pub status: String,
    pub description: String,
    pub expires_at: String,
    pub created_at: String,
}

fn allowance_body(app: &App, row: &AllowanceRow, pseudonym: String) -> AllowanceBody {
    let currency = crate::store::rows::currency(&row.currency).unwrap_or(app.currency());
    let m = |minor| Amount::of(Money::from_minor(minor, currency));
    AllowanceBody {
        id: row.public_id.clone(),
        customer: pseudonym,
        cap: m(row.cap_minor),
        spent: m(row.spent_minor),
        remaining: m(row.cap_minor.saturating_sub(row.spent_minor)),
        per_charge_max: m(row.per_charge_max_minor),
        status: row.status.clone(),
        description: row.description.clone(),
        expires_at: iso_time(row.expires_at),
        created_at: iso_time(row.created_at),
    }
}

/// Ask a customer for an allowance. It becomes `active` when the customer approves it with their
/// PIN in USSD Approvals.
#[utoipa::path(post, path = "/api/v1/allowances", tag = "allowances",
    request_body = NewAllowanceBody,
    params(("Idempotency-Key" = String, Header, description = "Unique per request, at most 48 characters")),
    responses((status = 201, body = AllowanceBody), (status = 200, body = AllowanceBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[post("/allowances")]
pub async fn create_allowance(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &body).await?;
    let input: NewAllowanceBody = parse_body(&body)?;
    let key = idempotency_key(&req)?;
    let cap = parse_money(&app, &input.cap, Some(TxnKind::Purchase))?;
    let per_charge = parse_money(&app, &input.per_charge_max, Some(TxnKind::Purchase))?;
    if per_charge.currency() != cap.currency() || per_charge.minor() > cap.minor() {
        return Err(ApiError::InvalidRequest {
            message: "per_charge_max must be in the cap's currency and no more than the cap".into(),
        });
    }
    let days_max = app.config.merchant_api.allowance_days_max;
    if !(1..=days_max).contains(&input.valid_days) {
        return Err(ApiError::InvalidRequest {
            message: format!("valid_days must be between 1 and {days_max}"),
        });
    }
    let description = validate_description(&input.description)?;
    let print = fingerprint(&body);
    let app2 = Arc::clone(&app);
    let (row, pseudonym, fresh) = blocking(move || {
        let app = app2;
        let mut conn = checkout(&app.pool)?;
        let now = app.clock.now();
        write_transaction(&mut conn, |conn| {
            let customer = match find_customer(&app, conn, merchant.id, &input.customer) {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            let ttl = app.config.merchant_api.allowance_request_ttl_seconds;
            let created = mstore::create_allowance(
                conn,
                &NewAllowance {
                    merchant_id: merchant.id,
                    merchant_account: mkoba_ledger::AccountId(merchant.account_id),
                    customer: &customer,
                    currency: cap.currency(),
                    cap_minor: cap.minor(),
                    per_charge_max_minor: per_charge.minor(),
                    expires_at_us: now.saturating_add_seconds(input.valid_days * 86_400).0,
                    description: &description,
                    request: Some(AllowanceRequestKey {
                        idempotency_key: &key,
                        fingerprint: &print,
                        expires_at_us: now.saturating_add_seconds(ttl).0,
                    }),
                    now_us: now.0,
                },
            )?;
            Ok(match created {
                Created::New(row) => {
                    let prompt = Message::AllowanceRequest {
                        merchant: short(&merchant.name),
                        cap,
                    };
                    queue_sms(&app, conn, &customer, &prompt, now)?;
                    Ok((row, customer.pseudonym, true))
                }
                Created::Existing(row) => Ok((row, customer.pseudonym, false)),
                Created::Conflict => Err(ApiError::IdempotencyConflict),
            })
        })
    })
    .await??;
    let body = allowance_body(&app, &row, pseudonym);
    Ok(if fresh {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

fn own_allowance(
    app: &App,
    conn: &mut AnyConnection,
    merchant_id: i64,
    public_id: &str,
) -> Result<Option<(AllowanceRow, String)>, StoreError> {
    let Some(row) = mstore::allowance(conn, public_id)? else {
        return Ok(None);
    };
    if row.merchant_id != merchant_id {
        return Ok(None);
    }
    let pseudonym = mstore::pseudonym(
        conn,
        &app.merchant.pseudonym_key,
        merchant_id,
        row.customer_id,
    )?;
    Ok(Some((row, pseudonym)))
}

#[utoipa::path(get, path = "/api/v1/allowances/{id}", tag = "allowances",
    params(("id" = String, Path, description = "The allowance's id (`al_…`)")),
    responses((status = 200, body = AllowanceBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/allowances/{id}")]
pub async fn get_allowance(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &[]).await?;
    let id = path.into_inner();
    let app2 = Arc::clone(&app);
    let found = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        own_allowance(&app2, &mut conn, merchant.id, &id)
    })
    .await?;
    let (row, pseudonym) = found.ok_or(ApiError::Rejected(
        mkoba_ledger::Rejection::AllowanceNotFound,
    ))?;
    Ok(HttpResponse::Ok().json(allowance_body(&app, &row, pseudonym)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChargeBody {
    pub amount: Amount,
    #[schema(min_length = 1, max_length = 100)]
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChargeBody {
    /// The ledger transaction code.
    pub transaction: String,
    pub allowance: String,
    pub amount: Amount,
    pub created_at: String,
    /// `true` when this answers a repeat of an earlier request with the same key.
    pub replayed: bool,
}

/// Charge against an active allowance, without the customer's PIN.
#[utoipa::path(post, path = "/api/v1/allowances/{id}/charges", tag = "allowances",
    request_body = NewChargeBody,
    params(("id" = String, Path, description = "The allowance's id (`al_…`)"),
        ("Idempotency-Key" = String, Header, description = "Unique per charge, at most 48 characters")),
    responses((status = 201, body = ChargeBody), (status = 200, body = ChargeBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[post("/allowances/{id}/charges")]
pub async fn create_charge(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &body).await?;
    let input: NewChargeBody = parse_body(&body)?;
    let key = idempotency_key(&req)?;
    let amount = parse_money(&app, &input.amount, Some(TxnKind::Purchase))?;
    let description = validate_description(&input.description)?;
    let id = path.into_inner();
    let app2 = Arc::clone(&app);
    let merchant_id = merchant.id;
    let found = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        own_allowance(&app2, &mut conn, merchant_id, &id)
    })
    .await?;
    let (row, _) = found.ok_or(ApiError::Rejected(
        mkoba_ledger::Rejection::AllowanceNotFound,
    ))?;
    if matches!(row.status.as_str(), "requested" | "declined" | "lapsed") {
        return Err(ApiError::WrongState {
            name: "allowance_not_granted",
            message: "The customer has not granted this allowance.",
        });
    }
    let command = Command::Charge {
        idempotency_key: ledger_key(merchant.id, "charge", &key),
        allowance: AllowanceId(row.id),
        amount,
        memo: description,
        metadata: json!({ "allowance": row.public_id }).to_string(),
    };
    // Small charges are summed up in one SMS a day instead of one each.
    let notify = amount.minor() >= app.config.merchant_api.small_charge_minor;
    let (receipt, replayed) = receipt_of(app.writer.submit_with(command, notify).await?)?;
    let body = ChargeBody {
        transaction: receipt.code.clone(),
        allowance: row.public_id,
        amount: Amount::of(receipt.amount),
        created_at: iso_time(receipt.created_at.0),
        replayed,
    };
    Ok(created_or_replayed(body, replayed))
}

/// Announces a change that did not go through the ledger (declines, expiries, grants).
pub fn announce(
    conn: &mut AnyConnection,
    merchant_id: i64,
    event_type: &str,
    object: serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    enqueue(conn, merchant_id, event_type, object, now).map(|_| ())
}

/// The event body for a payment request that changed without a payment.
pub fn request_event(row: &PaymentRequestRow, pseudonym: &str) -> serde_json::Value {
    let money = row
        .amount()
        .map(money_json)
        .unwrap_or(serde_json::Value::Null);
    json!({ "payment_request": row.public_id, "customer": pseudonym, "money": money })
}

/// The event body for an allowance that changed.
pub fn allowance_event(row: &AllowanceRow, pseudonym: &str) -> serde_json::Value {
    json!({ "allowance": row.public_id, "customer": pseudonym, "status": row.status })
}
