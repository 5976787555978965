//! A merchant's own money and settings: payments received, refunds, balance, webhook settings.

use std::sync::Arc;

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use mkoba_ledger::{Command, Money, Rejection, TxnId, TxnKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::http::error::ApiError;
use crate::merchant::events::EVENT_TYPES;
use crate::merchant::store as mstore;
use crate::merchant::{
    authenticate, created_or_replayed, idempotency_key, iso_time, ledger_key, parse_body,
    parse_money, receipt_of, Amount, ErrorBody,
};
use crate::store::schema::{accounts, transactions};
use crate::store::{blocking, checkout, AnyConnection, StoreError};
use crate::with_conn;

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentBody {
    pub transaction: String,
    /// `merchant_payment` or `purchase`.
    pub kind: String,
    pub amount: Amount,
    /// What mkoba kept as its fee.
    pub fee: Amount,
    /// Already refunded (or reversed) of `amount`.
    pub refunded: Amount,
    pub customer: Option<String>,
    pub memo: String,
    pub created_at: String,
}

type PaymentRow = (i64, String, i64, i64, String, i64, String, i64);

/// A payment to this merchant, by its transaction code; `None` for anything else.
fn own_payment(
    app: &App,
    conn: &mut AnyConnection,
    merchant: &crate::merchant::Merchant,
    code: &str,
) -> Result<Option<PaymentBody>, StoreError> {
    let Some(id) = app.ledger.codes.id_for(code) else {
        return Ok(None);
    };
    let kinds = [
        TxnKind::MerchantPayment.as_str(),
        TxnKind::Purchase.as_str(),
    ];
    let row: Option<PaymentRow> = with_conn!(&mut *conn, |c| transactions::table
        .filter(transactions::id.eq(id.0))
        .filter(transactions::credit_account_id.eq(merchant.account_id))
        .filter(transactions::kind.eq_any(kinds))
        .filter(transactions::phase.eq_any(["posted", "post_pending"]))
        .select((
            transactions::id,
            transactions::kind,
            transactions::amount_minor,
            transactions::fee_minor,
            transactions::currency,
            transactions::debit_account_id,
            transactions::memo,
            transactions::created_at,
        ))
        .get_result(c)
        .optional())?;
    let Some((id, kind, amount, fee, currency, wallet, memo, created_at)) = row else {
        return Ok(None);
    };
    let refunded: Vec<i64> = with_conn!(&mut *conn, |c| transactions::table
        .filter(transactions::related_id.eq(id))
        .filter(transactions::kind.eq_any(["refund", "reversal"]))
        .select(transactions::amount_minor)
        .load(c))?;
    let currency = crate::store::rows::currency(&currency)?;
    let m = |minor| Amount::of(Money::from_minor(minor, currency));
    let customer =
        mstore::pseudonym_of_wallet(conn, &app.merchant.pseudonym_key, merchant.id, wallet)?;
    Ok(Some(PaymentBody {
        transaction: code.to_owned(),
        kind,
        amount: m(amount),
        fee: m(fee),
        refunded: m(refunded.iter().fold(0_i64, |a, b| a.saturating_add(*b))),
        customer,
        memo,
        created_at: iso_time(created_at),
    }))
}

#[utoipa::path(get, path = "/api/v1/payments/{code}", tag = "payments",
    params(("code" = String, Path, description = "The payment's transaction code")),
    responses((status = 200, body = PaymentBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/payments/{code}")]
pub async fn get_payment(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &[]).await?;
    let code = path.into_inner();
    let app2 = Arc::clone(&app);
    let found = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        own_payment(&app2, &mut conn, &merchant, &code)
    })
    .await?;
    Ok(HttpResponse::Ok().json(found.ok_or(ApiError::NotFound("payment"))?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefundBody {
    /// Part of the payment; all that is left of it when absent.
    pub amount: Option<Amount>,
    #[schema(max_length = 100)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundBody {
    pub transaction: String,
    pub refund_of: String,
    pub amount: Amount,
    pub created_at: String,
    pub replayed: bool,
}

/// Refund a payment in full or in part, within the refund window.
#[utoipa::path(post, path = "/api/v1/payments/{code}/refunds", tag = "payments",
    request_body = NewRefundBody,
    params(("code" = String, Path, description = "The payment's transaction code"),
        ("Idempotency-Key" = String, Header, description = "Unique per refund, at most 48 characters")),
    responses((status = 201, body = RefundBody), (status = 200, body = RefundBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[post("/payments/{code}/refunds")]
pub async fn create_refund(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &body).await?;
    let input: NewRefundBody = parse_body(&body)?;
    let key = idempotency_key(&req)?;
    let amount = match &input.amount {
        Some(a) => Some(parse_money(&app, a, Some(TxnKind::Refund))?),
        None => None,
    };
    let reason = input.reason.unwrap_or_default();
    if reason.chars().count() > 100 || reason.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest {
            message: "reason must be at most 100 printable characters".into(),
        });
    }
    let code = path.into_inner();
    let app2 = Arc::clone(&app);
    let merchant2 = merchant.clone();
    let code2 = code.clone();
    let payment = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        own_payment(&app2, &mut conn, &merchant2, &code2)
    })
    .await?
    .ok_or(ApiError::NotFound("payment"))?;
    if amount.is_some_and(|a| a.currency().code() != payment.amount.currency) {
        return Err(ApiError::Rejected(Rejection::CurrencyMismatch));
    }
    let original = app
        .ledger
        .codes
        .id_for(&code)
        .ok_or(ApiError::NotFound("payment"))?;
    let command = Command::Refund {
        idempotency_key: ledger_key(merchant.id, "refund", &key),
        original,
        amount_minor: amount.map(|a| a.minor()),
        memo: reason,
    };
    let (receipt, replayed) = receipt_of(app.writer.submit(command).await?)?;
    let body = RefundBody {
        transaction: receipt.code.clone(),
        refund_of: receipt
            .related
            .map_or(code, |t: TxnId| app.ledger.codes.code_for(t)),
        amount: Amount::of(receipt.amount),
        created_at: iso_time(receipt.created_at.0),
        replayed,
    };
    Ok(created_or_replayed(body, replayed))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceBody {
    /// What mkoba holds for the merchant: what it is owed at settlement.
    pub balance: Amount,
    pub available: Amount,
}

#[utoipa::path(get, path = "/api/v1/balance", tag = "account",
    responses((status = 200, body = BalanceBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/balance")]
pub async fn get_balance(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &[]).await?;
    let app2 = Arc::clone(&app);
    let (balance, pending, currency): (i64, i64, String) = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        Ok(with_conn!(&mut *conn, |c| accounts::table
            .filter(accounts::id.eq(merchant.account_id))
            .select((
                accounts::balance_minor,
                accounts::pending_debits_minor,
                accounts::currency
            ))
            .get_result(c))?)
    })
    .await?;
    let currency = crate::store::rows::currency(&currency)?;
    Ok(HttpResponse::Ok().json(BalanceBody {
        balance: Amount::of(Money::from_minor(balance, currency)),
        available: Amount::of(Money::from_minor(balance.saturating_sub(pending), currency)),
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// Where events are POSTed; `null` turns webhooks off.
    #[schema(max_length = 500)]
    pub url: Option<String>,
    /// Event types to receive.
    pub events: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/webhook", tag = "account",
    responses((status = 200, body = WebhookBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/webhook")]
pub async fn get_webhook(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &[]).await?;
    let app2 = Arc::clone(&app);
    let settings = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        mstore::webhook_settings(&mut conn, merchant.id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookBody {
        url: settings.url,
        events: settings.events,
    }))
}

/// Set the webhook URL and the events it receives. Events are signed with the merchant's signing
/// secret: `Mkoba-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
#[utoipa::path(put, path = "/api/v1/webhook", tag = "account", request_body = WebhookBody,
    responses((status = 200, body = WebhookBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[put("/webhook")]
pub async fn put_webhook(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &body).await?;
    let input: WebhookBody = parse_body(&body)?;
    if let Some(url) = &input.url {
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || url.len() > 500 || url.chars().any(char::is_whitespace) {
            return Err(ApiError::InvalidRequest {
                message: "url must be an http(s) URL of at most 500 characters".into(),
            });
        }
    }
    let mut events: Vec<String> = Vec::new();
    for event in &input.events {
        if !EVENT_TYPES.contains(&event.as_str()) {
            return Err(ApiError::InvalidRequest {
                message: format!("unknown event type; known: {}", EVENT_TYPES.join(", ")),
            });
        }
        if !events.contains(event) {
            events.push(event.clone());
        }
    }
    let app2 = Arc::clone(&app);
    let url = input.url.clone();
    let events2 = events.clone();
    blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        mstore::set_webhook(&mut conn, merchant.id, url.as_deref(), &events2)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookBody {
        url: input.url,
        events,
    }))
}
