//! The one error type at the HTTP edge: `{ "error": "<snake_case_name>", "message": "…" }`.
//!
//! Ledger rejections map to statuses through an exhaustive match (no catch-all arm), so a new
//! rejection cannot ship without a decision here. Store failures answer 503 or a generic 500;
//! their causes go to the log, never to the client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use mkoba_ledger::Rejection;
use serde::Serialize;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Rejected(Rejection),
    /// The request itself is malformed (bad JSON, a field of the wrong shape).
    #[error("{message}")]
    InvalidRequest { message: String },
    #[error("a phone number in the request is not valid")]
    InvalidPhone,
    #[error("authentication required")]
    Unauthorized,
    #[error("the request's signature is not valid")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this API key has been revoked")]
    ApiKeyRevoked,
    #[error("this merchant requires signed requests")]
    SignatureRequired,
    #[error("the request's timestamp is outside the five-minute window")]
    TimestampOutOfWindow,
    #[error("this signed request was already received")]
    RequestReplayed,
    #[error("too many requests for this API key; retry after {0} s")]
    RateLimited(u64),
    #[error("no customer has that phone number or pseudonym")]
    CustomerNotFound,
    /// The request reuses an idempotency key for a different request.
    #[error("this idempotency key was already used for a different request")]
    IdempotencyConflict,
    /// The object is not in a state that allows this (e.g. a payment request already paid).
    #[error("{message}")]
    WrongState {
        name: &'static str,
        message: &'static str,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
}

pub fn rejection_status(rejection: Rejection) -> StatusCode {
    use Rejection as R;
    match rejection {
        R::AccountNotFound | R::PendingNotFound | R::TransactionNotFound | R::AllowanceNotFound => {
            StatusCode::NOT_FOUND
        }
        R::IdempotencyKeyReused
        | R::PendingAlreadyPosted
        | R::PendingAlreadyVoided
        | R::PendingExpired
        | R::AllowanceRevoked
        | R::AllowanceExpired => StatusCode::CONFLICT,
        R::AmountEmpty
        | R::AmountInvalid
        | R::AmountNegative
        | R::AmountNotPositive
        | R::AmountTooPrecise
        | R::AmountExceedsMaximum
        | R::AmountOverflow
        | R::BelowMinimumAmount
        | R::CurrencyMismatch
        | R::CurrencyNotEnabled
        | R::AccountFrozen
        | R::AccountClosed
        | R::AccountKindNotAllowed
        | R::SameAccount
        | R::InsufficientFunds
        | R::ExceedsTransactionLimit
        | R::ExceedsDailyLimit
        | R::ExceedsBalanceLimit
        | R::IdempotencyKeyInvalid
        | R::MemoTooLong
        | R::MetadataTooLong
        | R::ExpiryInvalid
        | R::PostExceedsPending
        | R::ReversalNotAllowed
        | R::ReversalWindowClosed
        | R::ReversalAttemptsExhausted
        | R::ReversalNothingRecoverable
        | R::AccountBlacklisted
        | R::RefundNotAllowed
        | R::RefundWindowClosed
        | R::RefundExceedsPayment
        | R::AllowancePerChargeExceeded
        | R::AllowanceCapExceeded => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl ApiError {
    pub fn name(&self) -> &'static str {
        match self {
            ApiError::Rejected(r) => r.name(),
            ApiError::InvalidRequest { .. } => "invalid_request",
            ApiError::InvalidPhone => "invalid_phone_number",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "invalid_signature",
            ApiError::NotFound(_) => "not_found",
            ApiError::ApiKeyRevoked => "api_key_revoked",
            ApiError::SignatureRequired => "signature_required",
            ApiError::TimestampOutOfWindow => "timestamp_out_of_window",
            ApiError::RequestReplayed => "request_replayed",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::CustomerNotFound => "customer_not_found",
            ApiError::IdempotencyConflict => "idempotency_key_reused",
            ApiError::WrongState { name, .. } => name,
            ApiError::Store(StoreError::WriterBusy) => "ledger_busy",
            ApiError::Store(e) if e.is_transient() => "store_unavailable",
            ApiError::Store(_) => "internal_error",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Rejected(r) => rejection_status(*r),
            ApiError::InvalidRequest { .. } | ApiError::InvalidPhone => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::CustomerNotFound => StatusCode::NOT_FOUND,
            ApiError::ApiKeyRevoked
            | ApiError::SignatureRequired
            | ApiError::TimestampOutOfWindow => StatusCode::UNAUTHORIZED,
            ApiError::RequestReplayed
            | ApiError::IdempotencyConflict
            | ApiError::WrongState { .. } => StatusCode::CONFLICT,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Store(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            ApiError::Rejected(r) => r.message().to_owned(),
            ApiError::Store(e) => {
                tracing::error!(error = %e, "store error answered to a client");
                if e.is_transient() {
                    "The ledger is temporarily unavailable; retry with the same idempotency key."
                        .to_owned()
                } else {
                    "Internal error.".to_owned()
                }
            }
            other => other.to_string(),
        };
        let mut response = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header(("Retry-After", "1"));
        }
        if let ApiError::RateLimited(seconds) = self {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response.json(Body {
            error: self.name(),
            message,
        })
    }
}
