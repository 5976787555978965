//! Every reason the ledger refuses a command, each with a stable snake_case name.
//!
//! The API, USSD and SMS layers match on this enum exhaustively (no catch-all arms), so adding a
//! variant forces every channel to decide what to tell its users.

use crate::money::AmountError;

macro_rules! rejections {
    ($($variant:ident => $name:literal, $message:literal;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Rejection {
            $($variant,)*
        }

        impl Rejection {
            pub const ALL: &'static [Rejection] = &[$(Rejection::$variant,)*];

            /// The stable name clients and logs see.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Rejection::$variant => $name,)*
                }
            }

            /// A short English explanation for API clients and operators.
            pub const fn message(self) -> &'static str {
                match self {
                    $(Rejection::$variant => $message,)*
                }
            }

            pub fn from_name(name: &str) -> Option<Rejection> {
                Rejection::ALL.iter().copied().find(|r| r.name() == name)
            }
        }
    };
}

rejections! {
    AmountEmpty => "amount_empty", "No amount was given.";
    AmountInvalid => "amount_invalid", "The amount is not a plain decimal number.";
    AmountNegative => "amount_negative", "The amount is negative.";
    AmountNotPositive => "amount_not_positive", "The amount must be greater than zero.";
    AmountTooPrecise => "amount_too_precise", "The amount has more decimal places than the currency allows.";
    AmountExceedsMaximum => "amount_exceeds_maximum", "The amount is above the maximum allowed.";
    AmountOverflow => "amount_overflow", "The amounts involved are too large to add up.";
    BelowMinimumAmount => "below_minimum_amount", "The amount is below the minimum for this kind of transaction.";
    CurrencyMismatch => "currency_mismatch", "The accounts and the amount are not all in one currency.";
    CurrencyNotEnabled => "currency_not_enabled", "This currency is not enabled.";
    AccountNotFound => "account_not_found", "An account in the request does not exist.";
    AccountFrozen => "account_frozen", "An account in the request is frozen.";
    AccountClosed => "account_closed", "An account in the request is closed.";
    AccountKindNotAllowed => "account_kind_not_allowed", "This kind of transaction cannot move money between these kinds of account.";
    SameAccount => "same_account", "The debit and credit accounts are the same.";
    InsufficientFunds => "insufficient_funds", "The paying account does not hold enough available funds.";
    ExceedsTransactionLimit => "exceeds_transaction_limit", "The amount is above the per-transaction limit for the customer's tier.";
    ExceedsDailyLimit => "exceeds_daily_limit", "The amount would take the customer over the daily limit for their tier.";
    ExceedsBalanceLimit => "exceeds_balance_limit", "The amount would take the receiving customer over the balance limit for their tier.";
    IdempotencyKeyInvalid => "idempotency_key_invalid", "The idempotency key is empty, too long or has characters outside printable ASCII.";
    IdempotencyKeyReused => "idempotency_key_reused", "This idempotency key was already used for a different request.";
    MemoTooLong => "memo_too_long", "The memo is too long.";
    MetadataTooLong => "metadata_too_long", "The metadata is too long.";
    ExpiryInvalid => "expiry_invalid", "The expiry of the pending transfer is in the past or too far ahead.";
    PendingNotFound => "pending_not_found", "No pending transfer has that id.";
    PendingAlreadyPosted => "pending_already_posted", "The pending transfer was already posted.";
    PendingAlreadyVoided => "pending_already_voided", "The pending transfer was already voided.";
    PendingExpired => "pending_expired", "The pending transfer expired.";
    PostExceedsPending => "post_exceeds_pending", "The amount posted is more than the pending transfer reserved.";
    TransactionNotFound => "transaction_not_found", "No transaction has that id.";
    ReversalNotAllowed => "reversal_not_allowed", "This kind of transaction cannot be reversed.";
    ReversalWindowClosed => "reversal_window_closed", "The time allowed for reversing this transaction has passed.";
    ReversalAttemptsExhausted => "reversal_attempts_exhausted", "This transaction has been reversed as many times as allowed.";
    ReversalNothingRecoverable => "reversal_nothing_recoverable", "The recipient holds nothing that can be returned.";
    AccountBlacklisted => "account_blacklisted", "An account in the request is blacklisted.";
    RefundNotAllowed => "refund_not_allowed", "Only merchant payments and purchases can be refunded.";
    RefundWindowClosed => "refund_window_closed", "The time allowed for refunding this payment has passed.";
    RefundExceedsPayment => "refund_exceeds_payment", "The refund is more than what is left of the payment.";
    AllowanceNotFound => "allowance_not_found", "No allowance has that id.";
    AllowanceRevoked => "allowance_revoked", "The customer revoked this allowance.";
    AllowanceExpired => "allowance_expired", "The allowance has expired.";
    AllowancePerChargeExceeded => "allowance_per_charge_exceeded", "The charge is above the allowance's per-charge maximum.";
    AllowanceCapExceeded => "allowance_cap_exceeded", "The charge would take the allowance over its cap.";
}

impl From<AmountError> for Rejection {
    fn from(err: AmountError) -> Rejection {
        match err {
            AmountError::Empty => Rejection::AmountEmpty,
            AmountError::Invalid => Rejection::AmountInvalid,
            AmountError::Negative => Rejection::AmountNegative,
            AmountError::NotPositive => Rejection::AmountNotPositive,
            AmountError::TooPrecise => Rejection::AmountTooPrecise,
            AmountError::ExceedsMaximum => Rejection::AmountExceedsMaximum,
            AmountError::Overflow => Rejection::AmountOverflow,
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_snake_case_and_round_trip() {
        let mut seen = HashSet::new();
        for r in Rejection::ALL {
            let name = r.name();
            assert!(seen.insert(name), "duplicate name {name}");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert_eq!(Rejection::from_name(name), Some(*r));
        }
    }
}
