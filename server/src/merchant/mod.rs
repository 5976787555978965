//! The merchant API under `/api/v1`: JSON over HTTP for sellers of airtime, data and digital
//! goods. Merchants authenticate with API keys (and optionally signed requests), ask customers
//! to pay or to grant an allowance, charge allowances without a PIN, refund, and hear about every
//! change through signed webhooks. A merchant never sees a customer's number or name: only a
//! per-merchant pseudonym.

pub mod account;
pub mod api;
pub mod auth;
pub mod events;
pub mod jobs;
pub mod openapi;
pub mod records;
pub mod store;
pub mod webhooks;

use std::sync::Arc;

use actix_web::{web, HttpRequest};
use mkoba_ledger::{Currency, Money, Rejection, Timestamp, TxnKind};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::app::App;
use crate::http::error::ApiError;
use crate::store::{blocking, checkout};

pub use auth::Merchant;

/// Keys derived from the pepper for the merchant API.
pub struct MerchantKeys {
    pub api_key_hash_key: [u8; 32],
    pub pseudonym_key: [u8; 32],
    pub limiter: auth::RateLimiter,
}

/// Longest idempotency key a merchant may send (the ledger key adds a short prefix).
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 48;

/// A sum of money on the wire: major units as a decimal string, and the currency.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Amount {
    /// Major units, e.g. `"12.50"`; no more decimals than the currency has.
    #[schema(example = "12.50", pattern = r"^[0-9]{1,12}(\.[0-9]{1,4})?$")]
    pub value: String,
    /// ISO 4217, e.g. `KES`.
    #[schema(example = "KES", min_length = 3, max_length = 3)]
    pub currency: String,
}

impl Amount {
    pub fn of(money: Money) -> Amount {
        Amount {
            value: money.to_plain_string(),
            currency: money.currency().code().to_owned(),
        }
    }
}

/// Every error: a stable snake_case name and an English message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(example = "insufficient_funds")]
    pub error: String,
    pub message: String,
}

/// A money-moving call's outcome as the API answers it: the receipt and whether it is a replay
/// of an earlier request with the same key; a rejection as its named error.
pub fn receipt_of(
    outcome: mkoba_ledger::Outcome,
) -> Result<(mkoba_ledger::Receipt, bool), ApiError> {
    match outcome {
        mkoba_ledger::Outcome::Accepted(r) => Ok((r, false)),
        mkoba_ledger::Outcome::Replayed(r) => Ok((r, true)),
        mkoba_ledger::Outcome::Rejected(r) => Err(ApiError::Rejected(r)),
    }
}

/// 201 for something new, 200 for the same request again.
pub fn created_or_replayed(body: impl Serialize, replayed: bool) -> actix_web::HttpResponse {
    if replayed {
        actix_web::HttpResponse::Ok().json(body)
    } else {
        actix_web::HttpResponse::Created().json(body)
    }
}

pub fn iso_time(micros: i64) -> String {
    crate::sms::localtime::rfc3339_utc(Timestamp(micros))
}

pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidRequest {
        message: format!("request body: {e}"),
    })
}

pub fn parse_money(app: &App, amount: &Amount, kind: Option<TxnKind>) -> Result<Money, ApiError> {
    crate::http::ledger_api::parse_amount(app, &amount.value, &amount.currency, kind)
        .map_err(ApiError::Rejected)
}

/// The request's `Idempotency-Key` header: required on every call that creates something.
pub fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    let printable = key.bytes().all(|b| b.is_ascii_graphic());
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_LEN_MAX || !printable {
        return Err(ApiError::Rejected(Rejection::IdempotencyKeyInvalid));
    }
    Ok(key.to_owned())
}

/// The ledger's keys are global; a merchant's are its own. Prefixing keeps two merchants' keys
/// (and two kinds of call) from ever meeting.
pub fn ledger_key(merchant_id: i64, call: &str, key: &str) -> String {
    format!("m{merchant_id}:{call}:{key}")
}

/// What makes a repeated request "the same": its body.
pub fn fingerprint(body: &[u8]) -> String {
    crate::merchant::auth::hex(Sha256::digest(body).get(..16).unwrap_or_default())
}

/// Authenticates the caller: key, rate limit, then (for signed requests) the signature over
/// the exact body.
pub async fn authenticate(
    app: &Arc<App>,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Merchant, ApiError> {
    let app2 = Arc::clone(app);
    let req2 = auth::RequestParts::of(req);
    let body = body.to_vec();
    blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let credentials =
            match auth::authenticate(&mut conn, &app2.merchant.api_key_hash_key, &req2) {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
        if let Err(wait) = app2.merchant.limiter.check(&credentials.merchant.key_id) {
            return Ok(Err(ApiError::RateLimited(wait)));
        }
        let now_seconds = app2.clock.now().0 / 1_000_000;
        Ok(credentials.verify_signature(
            &mut conn,
            &req2,
            &body,
            now_seconds,
            app2.config.merchant_api.signature_window_seconds,
        ))
    })
    .await?
}

impl App {
    pub fn currency(&self) -> Currency {
        self.config.ledger.default_currency
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .service(openapi::document)
            .service(api::create_payment_request)
            .service(api::get_payment_request)
            .service(api::create_allowance)
            .service(api::get_allowance)
            .service(api::create_charge)
            .service(account::get_payment)
            .service(account::create_refund)
            .service(account::get_balance)
            .service(account::get_webhook)
            .service(account::put_webhook)
            .service(records::get_statement)
            .service(records::get_settlements)
            .service(records::list_keys)
            .service(records::revoke_key)
            .service(records::list_products)
            .service(records::put_product),
    );
}
