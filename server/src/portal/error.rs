//! What the portal answers when a page cannot be shown: HTML for people, never a stack trace.
//! Ledger rejections are not errors here: each page shows them as a form message, worded by
//! [`friendly`], which matches every rejection by name (no catch-all arm).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use mkoba_ledger::Rejection;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// No session (or it timed out): go and sign in.
    #[error("sign-in required")]
    SignIn { expired: bool },
    /// Somewhere else first (a password that must change).
    #[error("redirect to {0}")]
    Redirect(&'static str),
    /// The role may not use this page, or the data is not this agent's.
    #[error("forbidden")]
    Forbidden,
    /// A state-changing form without the session's CSRF token.
    #[error("form token missing or wrong")]
    Csrf,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rendering a page: {0}")]
    Render(#[from] askama::Error),
}

#[derive(Template)]
#[template(path = "portal/problem.html")]
struct Problem<'a> {
    title: &'a str,
    text: &'a str,
}

impl ResponseError for PortalError {
    fn status_code(&self) -> StatusCode {
        match self {
            PortalError::SignIn { .. } | PortalError::Redirect(_) => StatusCode::SEE_OTHER,
            PortalError::Forbidden | PortalError::Csrf => StatusCode::FORBIDDEN,
            PortalError::NotFound => StatusCode::NOT_FOUND,
            PortalError::Store(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            PortalError::Store(_) | PortalError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, text) = match self {
            PortalError::SignIn { expired } => {
                let to = if *expired {
                    "/portal/sign-in?expired=1"
                } else {
                    "/portal/sign-in"
                };
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, to))
                    .finish();
            }
            PortalError::Redirect(to) => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, *to))
                    .finish();
            }
            PortalError::Forbidden => (
                "Not allowed",
                "Your account cannot use this page, or what you asked for belongs to someone else.",
            ),
            PortalError::Csrf => (
                "Form expired",
                "This form is out of date or did not come from the portal. Go back, reload the page and try again. Nothing was changed.",
            ),
            PortalError::NotFound => ("Not found", "There is no such page."),
            PortalError::Store(e) => {
                tracing::error!(error = %e, "portal store error");
                if e.is_transient() {
                    (
                        "Try again",
                        "The system is busy or briefly unavailable. Nothing was lost: go back and submit the same form again.",
                    )
                } else {
                    ("Something went wrong", "The problem has been logged.")
                }
            }
            PortalError::Render(e) => {
                tracing::error!(error = %e, "portal template error");
                ("Something went wrong", "The problem has been logged.")
            }
        };
        let body = Problem { title, text }
            .render()
            .unwrap_or_else(|_| text.to_owned());
        let mut response = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.content_type("text/html; charset=utf-8").body(body)
    }
}

/// What to tell an agent when the ledger refuses: what happened and what to do about it.
pub fn friendly(rejection: Rejection) -> &'static str {
    use Rejection as R;
    match rejection {
        R::AmountEmpty => "Enter an amount.",
        R::AmountInvalid => "Enter the amount as digits, for example 1500 or 1500.50.",
        R::AmountNegative | R::AmountNotPositive => "The amount must be more than zero.",
        R::AmountTooPrecise => "Too many decimal places: use at most two (cents).",
        R::AmountExceedsMaximum => "The amount is above the largest allowed.",
        R::AmountOverflow => "The amounts involved are too large.",
        R::BelowMinimumAmount => "The amount is below the minimum for this kind of transaction.",
        R::CurrencyMismatch => "The accounts are in different currencies.",
        R::CurrencyNotEnabled => "This currency is not enabled.",
        R::AccountNotFound => "No such account.",
        R::AccountFrozen => "An account involved is frozen. Call the operator's agent line.",
        R::AccountClosed => "An account involved is closed.",
        R::AccountKindNotAllowed => "This transaction cannot be made between these accounts.",
        R::SameAccount => "The paying and receiving accounts are the same.",
        R::InsufficientFunds => "Not enough money: the paying account's available balance is too low (your float, for a cash-in or a float move; the customer's wallet, for a cash-out).",
        R::ExceedsTransactionLimit => "Above the customer's per-transaction limit for their KYC tier. Registering their ID raises it.",
        R::ExceedsDailyLimit => "This would take the customer over their daily limit.",
        R::ExceedsBalanceLimit => "This would take the customer's balance over the limit for their KYC tier. Registering their ID raises it.",
        R::IdempotencyKeyInvalid => "This form is not valid any more. Start again.",
        R::IdempotencyKeyReused => "This form was already used for a different transaction. Start again from a fresh form.",
        R::MemoTooLong => "The note is too long.",
        R::MetadataTooLong => "The request carries too much detail.",
        R::ExpiryInvalid => "The waiting time is not valid.",
        R::PendingNotFound => "That withdrawal is not waiting at this agent.",
        R::PendingAlreadyPosted => "That withdrawal was already paid out.",
        R::PendingAlreadyVoided => "That withdrawal was cancelled.",
        R::PendingExpired => "That withdrawal expired; the money went back to the customer.",
        R::PostExceedsPending => "More than the customer reserved.",
        R::TransactionNotFound => "No such transaction.",
        R::ReversalNotAllowed => "This kind of transaction cannot be reversed.",
        R::ReversalWindowClosed => "Too late to reverse this transaction.",
        R::ReversalAttemptsExhausted => "This transaction was reversed as often as allowed.",
        R::ReversalNothingRecoverable => "Nothing is left to return.",
        R::AccountBlacklisted => "An account involved is blocked. Call the operator's agent line.",
        R::RefundNotAllowed => "Only merchant payments can be refunded.",
        R::RefundWindowClosed => "Too late to refund this payment.",
        R::RefundExceedsPayment => "More than is left of the payment.",
        R::AllowanceNotFound => "No such allowance.",
        R::AllowanceRevoked => "The customer cancelled this allowance.",
        R::AllowanceExpired => "This allowance has expired.",
        R::AllowancePerChargeExceeded => "Above the allowance's limit per charge.",
        R::AllowanceCapExceeded => "The allowance is used up.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_has_a_plain_message() {
        for r in Rejection::ALL {
            let text = friendly(*r);
            assert!(text.ends_with('.'), "{r}: {text}");
            assert!(!text.contains('_'), "{r}: no snake_case names for people");
        }
    }
}
