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
        R::AccountNotFound | R::PendingNotFound | R::TransactionNotFound => StatusCode::NOT_FOUND,
        R::IdempotencyKeyReused
        | R::PendingAlreadyPosted
        | R::PendingAlreadyVoided
        | R::PendingExpired => StatusCode::CONFLICT,
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
        | R::AccountBlacklisted => StatusCode::UNPROCESSABLE_ENTITY,
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
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
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
        response.json(Body {
            error: self.name(),
            message,
        })
    }
}
