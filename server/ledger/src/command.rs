//! What callers ask the ledger to do, and what it answers.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{AccountId, AllowanceId, Phase, Posting, Timestamp, TxnId, TxnKind};
use crate::money::Money;
use crate::rejection::Rejection;

/// A request to move money, now or as a reservation that is posted or voided later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRequest {
    pub idempotency_key: String,
    pub kind: TxnKind,
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: Money,
    pub memo: String,
    /// Opaque JSON text for the caller's own references; the ledger only bounds its length.
    pub metadata: String,
    /// `Some(seconds)`: reserve the funds now and let the reservation lapse after this long.
    /// A duration rather than an instant, so that a retry of the same request is identical.
    pub pending_expiry_seconds: Option<i64>,
}

/// Why a reservation is being released without moving money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoidReason {
    /// Someone cancelled it (the sender's cancel window, an agent declining).
    Cancelled,
    /// The expiry sweeper found it past its expiry.
    Expired,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Submit(TxnRequest),
    /// Post a pending transfer, in full (`amount_minor: None`) or in part.
    PostPending {
        idempotency_key: String,
        pending: TxnId,
        amount_minor: Option<i64>,
    },
    VoidPending {
        idempotency_key: String,
        pending: TxnId,
        reason: VoidReason,
    },
    /// Return to the payer what the payee of `original` still holds, up to the original amount.
    Reverse {
        idempotency_key: String,
        original: TxnId,
        memo: String,
    },
    /// Return part (`amount_minor`) or all (`None`) of what is left of a merchant payment or
    /// purchase from the merchant to the customer who paid.
    Refund {
        idempotency_key: String,
        original: TxnId,
        amount_minor: Option<i64>,
        memo: String,
    },
    /// A purchase charged against a customer's allowance for a merchant, without a PIN: the
    /// ledger takes the wallet and the merchant from the allowance and enforces its terms.
    Charge {
        idempotency_key: String,
        allowance: AllowanceId,
        amount: Money,
        memo: String,
        metadata: String,
    },
}

impl Command {
    pub fn idempotency_key(&self) -> &str {
        match self {
            Command::Submit(r) => &r.idempotency_key,
            Command::PostPending {
                idempotency_key, ..
            }
            | Command::VoidPending {
                idempotency_key, ..
            }
            | Command::Reverse {
                idempotency_key, ..
            }
            | Command::Refund {
                idempotency_key, ..
            }
            | Command::Charge {
                idempotency_key, ..
            } => idempotency_key,
        }
    }

    /// Accounts the command names directly (pending and reversed transactions add theirs).
    pub fn named_accounts(&self) -> Vec<AccountId> {
        match self {
            Command::Submit(r) => vec![r.debit, r.credit],
            Command::PostPending { .. }
            | Command::VoidPending { .. }
            | Command::Reverse { .. }
            | Command::Refund { .. }
            | Command::Charge { .. } => Vec::new(),
        }
    }

    pub fn pending_ref(&self) -> Option<TxnId> {
        match self {
            Command::PostPending { pending, .. } | Command::VoidPending { pending, .. } => {
                Some(*pending)
            }
            Command::Submit(_)
            | Command::Reverse { .. }
            | Command::Refund { .. }
            | Command::Charge { .. } => None,
        }
    }

    pub fn original_ref(&self) -> Option<TxnId> {
        match self {
            Command::Reverse { original, .. } | Command::Refund { original, .. } => Some(*original),
            Command::Submit(_)
            | Command::PostPending { .. }
            | Command::VoidPending { .. }
            | Command::Charge { .. } => None,
        }
    }

    pub fn allowance_ref(&self) -> Option<AllowanceId> {
        match self {
            Command::Charge { allowance, .. } => Some(*allowance),
            Command::Submit(_)
            | Command::PostPending { .. }
            | Command::VoidPending { .. }
            | Command::Reverse { .. }
            | Command::Refund { .. } => None,
        }
    }

    /// A digest of every field that defines the request, stored beside the idempotency key so
    /// that reusing a key for a different request is detected.
    pub fn fingerprint(&self) -> String {
        let canonical = match self {
            Command::Submit(r) => {
                format!(
                    "v1|submit|{}|{}|{}|{}|{}|{:?}|{}|{}",
                    r.kind,
                    r.debit.0,
                    r.credit.0,
                    r.amount.minor(),
                    r.amount.currency(),
                    r.pending_expiry_seconds,
                    r.memo.len(),
                    r.memo
                ) + "|"
                    + &r.metadata
            }
            Command::PostPending {
                pending,
                amount_minor,
                ..
            } => {
                format!("v1|post|{}|{:?}", pending.0, amount_minor)
            }
            Command::VoidPending {
                pending, reason, ..
            } => format!("v1|void|{}|{:?}", pending.0, reason),
            Command::Reverse { original, memo, .. } => {
                format!("v1|reverse|{}|{}", original.0, memo)
            }
            Command::Refund {
                original,
                amount_minor,
                memo,
                ..
            } => format!("v1|refund|{}|{:?}|{}", original.0, amount_minor, memo),
            Command::Charge {
                allowance,
                amount,
                memo,
                metadata,
                ..
            } => {
                format!(
                    "v1|charge|{}|{}|{}|{}|{}",
                    allowance.0,
                    amount.minor(),
                    amount.currency(),
                    memo.len(),
                    memo
                ) + "|"
                    + metadata
            }
        };
        let digest = Sha256::digest(canonical.as_bytes());
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

/// What an accepted (or replayed) command did: enough for receipts, SMS and API answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub txn_id: TxnId,
    pub code: String,
    pub kind: TxnKind,
    pub phase: Phase,
    pub amount: Money,
    pub fee_minor: i64,
    pub commission_minor: i64,
    pub debit: AccountId,
    pub credit: AccountId,
    /// The pending transfer this resolves, or the transaction this reverses.
    pub related: Option<TxnId>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted(Receipt),
    /// The idempotency key was seen before with the same request: the original receipt.
    Replayed(Receipt),
    Rejected(Rejection),
}

impl Outcome {
    pub fn receipt(&self) -> Option<&Receipt> {
        match self {
            Outcome::Accepted(r) | Outcome::Replayed(r) => Some(r),
            Outcome::Rejected(_) => None,
        }
    }

    pub fn rejection(&self) -> Option<Rejection> {
        match self {
            Outcome::Rejected(r) => Some(*r),
            Outcome::Accepted(_) | Outcome::Replayed(_) => None,
        }
    }
}

/// A journal entry to append: the transaction header and its postings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    pub receipt: Receipt,
    pub idempotency_key: String,
    pub fingerprint: String,
    pub memo: String,
    pub metadata: String,
    /// Postings that move posted balances.
    pub postings: Vec<Posting>,
    /// Postings that only reserve (for `Phase::Pending` entries).
    pub reservations: Vec<Posting>,
    /// The two principal accounts as this entry left them (later commands in the same batch may
    /// change them again): what a confirmation message states as the new balance.
    pub after: Vec<AccountSnapshot>,
}

/// An account's figures right after one journal entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountSnapshot {
    pub account: AccountId,
    pub balance_minor: i64,
    pub available_minor: i64,
    /// For customer wallets: how much more they may send or withdraw today.
    pub daily_remaining_minor: Option<i64>,
}
