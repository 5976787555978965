//! Earlier uses of a batch's idempotency keys, and when the SQLite writer need not look them up.
//!
//! Looking every key up before a batch runs (one index descent per command) was 5.9% of the
//! SQLite writer in session 17's profile, and nearly always found nothing: a replay is a client
//! retrying after a lost answer. The journal's unique index on `idempotency_key` makes the same
//! descent when the row goes in, so on SQLite a batch may assume its keys are new and let that
//! index find the rare one that is not:
//! - an **accepted** command whose key was used before fails the journal insert with a unique
//!   violation; the whole transaction rolls back and the batch runs again with its keys looked up
//!   first, so the command gets the earlier answer (or `idempotency_key_reused`);
//! - a **rejected** command writes nothing, so no index sees it; the keys of a batch's rejected
//!   commands are looked up after it ran, and if one was used before, the batch is decided again
//!   in the same transaction with its keys looked up (nothing is written until then);
//! - a **replayed** command, assuming nothing was used before, can only repeat a key accepted
//!   earlier in the same batch, whose insert the index checks.
//!
//! So every outcome is the one a batch that looked its keys up first would give. After a unique
//! violation the writer looks keys up first for [`LOOKUPS_AFTER_REPLAY`] batches, so that a
//! client replaying on purpose cannot make every batch run twice. PostgreSQL always looks keys
//! up first: a failed statement there aborts the transaction, and its writers share the work
//! across threads already.

use std::collections::HashMap;

use diesel::prelude::*;
use mkoba_ledger::{Command, Outcome, PriorUse, Rejection};

use crate::store::cached::cached_if_short;
use crate::store::db::AnyConnection;
use crate::store::rows::TransactionRow;
use crate::store::schema::transactions;
use crate::store::StoreError;
use crate::with_conn;

/// Batches that look their keys up first after a replayed key rolled one back. At the SQLite
/// writer's usual batch sizes a few seconds of traffic; one replay in that many batches costs
/// at most one batch in 65 run twice.
pub const LOOKUPS_AFTER_REPLAY: u32 = 64;

/// Whether a batch looks up earlier uses of its idempotency keys before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriorKeys {
    LookUpFirst,
    /// Assume every key is new and let the journal's unique index (accepted commands) and a
    /// look-up after the run (rejected commands) find one that is not.
    AssumeNew,
}

/// One writer thread's memory of replayed keys: how many more batches look their keys up first.
#[derive(Debug, Default)]
pub struct ReplayWatch {
    lookups_left: u32,
}

impl ReplayWatch {
    pub fn new() -> ReplayWatch {
        ReplayWatch::default()
    }

    /// How the next batch treats its keys, and counts it.
    pub fn next_batch(&mut self) -> PriorKeys {
        if self.lookups_left > 0 {
            self.lookups_left -= 1;
            PriorKeys::LookUpFirst
        } else {
            PriorKeys::AssumeNew
        }
    }

    /// A batch that assumed its keys new met one used before.
    pub fn saw_replay(&mut self) {
        self.lookups_left = LOOKUPS_AFTER_REPLAY;
    }
}

/// Earlier uses of `keys`, by key.
pub fn load_prior_keys(
    conn: &mut AnyConnection,
    keys: &[&str],
) -> Result<HashMap<String, PriorUse>, StoreError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<TransactionRow> = with_conn!(conn, |c| cached_if_short(
        transactions::table
            .filter(transactions::idempotency_key.eq_any(keys))
            .select(TransactionRow::as_select()),
        keys.len()
    )
    .load(c))?;
    rows.iter()
        .map(|row| {
            Ok((
                row.idempotency_key.clone(),
                PriorUse {
                    fingerprint: row.fingerprint.clone(),
                    receipt: row.to_receipt()?,
                },
            ))
        })
        .collect()
}

/// Whether a rejected command of a batch that assumed its keys new used a key that was used
/// before (its answer would then be the earlier one, or `idempotency_key_reused`). A key the
/// engine found malformed is refused before any look-up, either way.
pub fn rejected_key_used_before(
    conn: &mut AnyConnection,
    commands: &[Command],
    outcomes: &[Outcome],
) -> Result<bool, StoreError> {
    assert_eq!(commands.len(), outcomes.len(), "one outcome per command");
    let rejected: Vec<&str> = commands
        .iter()
        .zip(outcomes)
        .filter(|(_, outcome)| {
            matches!(outcome, Outcome::Rejected(r) if *r != Rejection::IdempotencyKeyInvalid)
        })
        .map(|(command, _)| command.idempotency_key())
        .collect();
    Ok(!load_prior_keys(conn, &rejected)?.is_empty())
}

/// Whether `result` failed on a unique index: with keys assumed new, a key used before. Any
/// other unique violation is a fault that the run with keys looked up first meets again and
/// reports as itself.
pub fn is_unique_violation<T>(result: &Result<T, StoreError>) -> bool {
    matches!(
        result,
        Err(StoreError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _
        )))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_makes_the_next_batches_look_keys_up_first_then_stops() {
        let mut watch = ReplayWatch::new();
        assert_eq!(watch.next_batch(), PriorKeys::AssumeNew);
        watch.saw_replay();
        for n in 0..LOOKUPS_AFTER_REPLAY {
            assert_eq!(watch.next_batch(), PriorKeys::LookUpFirst, "batch {n}");
        }
        assert_eq!(watch.next_batch(), PriorKeys::AssumeNew);
        assert_eq!(watch.next_batch(), PriorKeys::AssumeNew);
    }

    #[test]
    fn only_unique_violations_count_as_a_replayed_key() {
        use diesel::result::{DatabaseErrorKind, Error};
        let violation = |kind| -> Result<(), StoreError> {
            Err(StoreError::Query(Error::DatabaseError(
                kind,
                Box::new(String::from("constraint")),
            )))
        };
        assert!(is_unique_violation(&violation(
            DatabaseErrorKind::UniqueViolation
        )));
        assert!(!is_unique_violation(&violation(
            DatabaseErrorKind::CheckViolation
        )));
        assert!(!is_unique_violation(&Err::<(), _>(StoreError::Conflict(
            "x".into()
        ))));
        assert!(!is_unique_violation(&Ok::<(), StoreError>(())));
    }
}
