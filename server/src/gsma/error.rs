//! The GSMA error object: `{errorCategory, errorCode, errordescription, errorDateTime,
//! errorParameters}`, with the HTTP status the spec gives each category (validation and business
//! rules 400, authorisation 401, identification 404, internal 500, service unavailable 503).
//!
//! Every ledger `Rejection` and every `ApiError` maps through an exhaustive match (no catch-all
//! arm); mkoba's own snake_case name travels in `errorParameters` as `mkobaError`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use mkoba_ledger::{Rejection, Timestamp};
use serde_json::{json, Value};

use crate::http::error::ApiError;
use crate::store::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    BusinessRule,
    Validation,
    Authorisation,
    Identification,
    Internal,
    ServiceUnavailable,
}

impl Category {
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::BusinessRule => "businessRule",
            Category::Validation => "validation",
            Category::Authorisation => "authorisation",
            Category::Identification => "identification",
            Category::Internal => "internal",
            Category::ServiceUnavailable => "serviceUnavailable",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            Category::BusinessRule | Category::Validation => StatusCode::BAD_REQUEST,
            Category::Authorisation => StatusCode::UNAUTHORIZED,
            Category::Identification => StatusCode::NOT_FOUND,
            Category::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Category::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{category:?}/{code}: {description}")]
pub struct GsmaError {
    pub category: Category,
    /// One of the spec's harmonised error codes.
    pub code: &'static str,
    /// mkoba's own stable name for the cause.
    pub name: &'static str,
    pub description: String,
    pub retry_after_seconds: Option<u64>,
}

impl GsmaError {
    pub fn new(
        category: Category,
        code: &'static str,
        name: &'static str,
        description: impl Into<String>,
    ) -> GsmaError {
        GsmaError {
            category,
            code,
            name,
            description: description.into(),
            retry_after_seconds: None,
        }
    }

    /// A malformed request: the field and what is wrong with it.
    pub fn format(description: impl Into<String>) -> GsmaError {
        GsmaError::new(
            Category::Validation,
            "formatError",
            "invalid_request",
            description,
        )
    }

    pub fn missing(field: &str) -> GsmaError {
        GsmaError::new(
            Category::Validation,
            "mandatoryValueNotSupplied",
            "invalid_request",
            format!("{field} is required"),
        )
    }

    /// The caller is who it says, but may not do this.
    pub fn not_entitled(description: impl Into<String>) -> GsmaError {
        GsmaError::new(
            Category::Authorisation,
            "clientAuthorisationError",
            "not_entitled",
            description,
        )
    }

    /// No account, transaction, mandate or request by that identifier that the caller may see.
    pub fn not_found(what: &str) -> GsmaError {
        GsmaError::new(
            Category::Identification,
            "identifierError",
            "not_found",
            format!("No {what} matches that identifier."),
        )
    }

    pub fn transaction_type(description: impl Into<String>) -> GsmaError {
        GsmaError::new(
            Category::BusinessRule,
            "transactionTypeError",
            "transaction_type_not_supported",
            description,
        )
    }

    pub fn duplicate() -> GsmaError {
        GsmaError::new(
            Category::BusinessRule,
            "duplicateRequest",
            "idempotency_key_reused",
            "This X-CorrelationID was already used for a different request.",
        )
    }

    pub fn declined(description: impl Into<String>) -> GsmaError {
        GsmaError::new(
            Category::Authorisation,
            "requestDeclined",
            "request_declined",
            description,
        )
    }

    pub fn status(&self) -> StatusCode {
        self.category.status()
    }

    /// The spec's error object.
    pub fn body(&self, at: Timestamp) -> Value {
        let description: String = self.description.chars().take(256).collect();
        json!({
            "errorCategory": self.category.as_str(),
            "errorCode": self.code,
            "errordescription": description,
            "errorDateTime": crate::merchant::iso_time(at.0),
            "errorParameters": [{ "key": "mkobaError", "value": self.name }],
        })
    }
}

/// (category, harmonised code) for each ledger rejection.
pub fn rejection_code(rejection: Rejection) -> (Category, &'static str) {
    use Category::{BusinessRule as B, Identification as I, Validation as V};
    use Rejection as R;
    match rejection {
        R::AmountEmpty => (V, "mandatoryValueNotSupplied"),
        R::AmountNegative => (V, "negativeValue"),
        R::AmountInvalid
        | R::AmountNotPositive
        | R::AmountTooPrecise
        | R::AmountOverflow
        | R::IdempotencyKeyInvalid
        | R::ExpiryInvalid => (V, "formatError"),
        R::MemoTooLong | R::MetadataTooLong => (V, "lengthError"),
        R::CurrencyMismatch | R::CurrencyNotEnabled => (V, "currencyNotSupported"),
        R::AmountExceedsMaximum | R::ExceedsTransactionLimit => {
            (B, "greaterThanTransactionMaxValue")
        }
        R::BelowMinimumAmount => (B, "lessThanTransactionMinValue"),
        R::ExceedsDailyLimit => (B, "dailyValueLimitExceeded"),
        R::ExceedsBalanceLimit => (B, "maxBalanceExceeded"),
        R::SameAccount => (B, "samePartiesError"),
        R::InsufficientFunds => (B, "insufficientFunds"),
        R::IdempotencyKeyReused => (B, "duplicateRequest"),
        R::AccountKindNotAllowed | R::ReversalNotAllowed | R::RefundNotAllowed => {
            (B, "transactionTypeError")
        }
        R::PostExceedsPending | R::RefundExceedsPayment => (B, "overPaymentNotAllowed"),
        R::AccountFrozen
        | R::AccountClosed
        | R::AccountBlacklisted
        | R::PendingAlreadyPosted
        | R::PendingAlreadyVoided
        | R::PendingExpired
        | R::ReversalWindowClosed
        | R::ReversalAttemptsExhausted
        | R::ReversalNothingRecoverable
        | R::RefundWindowClosed => (B, "incorrectState"),
        R::AllowanceRevoked
        | R::AllowanceExpired
        | R::AllowancePerChargeExceeded
        | R::AllowanceCapExceeded => (B, "noMandateAuthority"),
        R::AccountNotFound | R::PendingNotFound | R::TransactionNotFound | R::AllowanceNotFound => {
            (I, "identifierError")
        }
    }
}

impl From<Rejection> for GsmaError {
    fn from(rejection: Rejection) -> GsmaError {
        let (category, code) = rejection_code(rejection);
        GsmaError::new(category, code, rejection.name(), rejection.message())
    }
}

impl From<StoreError> for GsmaError {
    fn from(err: StoreError) -> GsmaError {
        GsmaError::from(ApiError::Store(err))
    }
}

impl From<ApiError> for GsmaError {
    fn from(err: ApiError) -> GsmaError {
        let name = err.name();
        let text = err.to_string();
        let (category, code) = match &err {
            ApiError::Rejected(r) => return GsmaError::from(*r),
            ApiError::InvalidRequest { .. } | ApiError::InvalidPhone => {
                (Category::Validation, "formatError")
            }
            ApiError::Unauthorized
            | ApiError::Forbidden
            | ApiError::ApiKeyRevoked
            | ApiError::SignatureRequired
            | ApiError::TimestampOutOfWindow
            | ApiError::RequestReplayed => (Category::Authorisation, "clientAuthorisationError"),
            ApiError::NotFound(_) | ApiError::CustomerNotFound => {
                (Category::Identification, "identifierError")
            }
            ApiError::RateLimited(_) => (Category::BusinessRule, "rateLimitError"),
            ApiError::IdempotencyConflict => (Category::BusinessRule, "duplicateRequest"),
            ApiError::WrongState { .. } => (Category::BusinessRule, "incorrectState"),
            ApiError::Store(e) if e.is_transient() || matches!(e, StoreError::WriterBusy) => {
                (Category::ServiceUnavailable, "genericError")
            }
            ApiError::Store(_) => (Category::Internal, "genericError"),
        };
        let description = match &err {
            ApiError::Store(e) => {
                tracing::error!(error = %e, "store error answered to a GSMA client");
                if category == Category::ServiceUnavailable {
                    "The ledger is temporarily unavailable; retry with the same X-CorrelationID."
                        .to_owned()
                } else {
                    "Internal error.".to_owned()
                }
            }
            ApiError::Rejected(_)
            | ApiError::InvalidRequest { .. }
            | ApiError::InvalidPhone
            | ApiError::Unauthorized
            | ApiError::Forbidden
            | ApiError::NotFound(_)
            | ApiError::ApiKeyRevoked
            | ApiError::SignatureRequired
            | ApiError::TimestampOutOfWindow
            | ApiError::RequestReplayed
            | ApiError::RateLimited(_)
            | ApiError::CustomerNotFound
            | ApiError::IdempotencyConflict
            | ApiError::WrongState { .. } => text,
        };
        let retry_after_seconds = match &err {
            ApiError::RateLimited(seconds) => Some(*seconds),
            _ if category == Category::ServiceUnavailable => Some(1),
            _ => None,
        };
        GsmaError {
            category,
            code,
            name,
            description,
            retry_after_seconds,
        }
    }
}

impl ResponseError for GsmaError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let now = Timestamp(crate::store::now_micros());
        let mut response = HttpResponse::build(self.status());
        response.insert_header(("X-Date", crate::merchant::iso_time(now.0)));
        if let Some(seconds) = self.retry_after_seconds {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response.json(self.body(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_has_a_spec_code_and_status() {
        let codes = [
            "genericError",
            "dailyValueLimitExceeded",
            "lessThanTransactionMinValue",
            "greaterThanTransactionMaxValue",
            "maxBalanceExceeded",
            "samePartiesError",
            "duplicateRequest",
            "insufficientFunds",
            "incorrectState",
            "overPaymentNotAllowed",
            "transactionTypeError",
            "noMandateAuthority",
            "identifierError",
            "lengthError",
            "formatError",
            "negativeValue",
            "currencyNotSupported",
            "mandatoryValueNotSupplied",
        ];
        for r in Rejection::ALL {
            let e = GsmaError::from(*r);
            assert!(codes.contains(&e.code), "{r:?} → {}", e.code);
            assert!(e.status().is_client_error(), "{r:?}");
            assert_eq!(e.name, r.name());
        }
        assert_eq!(
            GsmaError::from(Rejection::InsufficientFunds).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            GsmaError::from(Rejection::TransactionNotFound).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_body_is_the_spec_error_object() {
        let body = GsmaError::duplicate().body(Timestamp(0));
        assert_eq!(body["errorCategory"], "businessRule");
        assert_eq!(body["errorCode"], "duplicateRequest");
        assert_eq!(
            body["errorParameters"][0]["value"],
            "idempotency_key_reused"
        );
        assert!(body["errorDateTime"]
            .as_str()
            .unwrap_or("")
            .starts_with("1970-"));
    }
}
