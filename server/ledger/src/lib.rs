//! mkoba's ledger: the rules of money, free of IO.
//!
//! Nothing here talks to a database, a network or a clock. The store (in the `mkoba` crate) loads
//! the state a batch of commands needs, runs them through [`engine::Batch`], and writes back what
//! the batch returns; `cargo tree` in CI proves this crate stays free of diesel, actix and tokio.

pub mod code;
pub mod command;
pub mod engine;
pub mod memory;
pub mod model;
pub mod money;
pub mod reconcile;
pub mod rejection;
pub mod rules;

pub use code::TxnCodes;
pub use command::{
    AccountSnapshot, Command, JournalEntry, Outcome, Receipt, TxnRequest, VoidReason,
};
pub use engine::{Batch, BatchState, BatchWrites, PriorUse};
pub use model::{
    AccountId, AccountKind, AccountState, AccountStatus, AllowanceId, AllowanceState, Leg,
    PendingState, PendingStatus, Phase, Posting, ReversibleTxn, Tier, Timestamp, TxnId, TxnKind,
};
pub use money::{AmountError, Currency, Money};
pub use rejection::Rejection;
pub use rules::LedgerRules;
