//! The SQLite ledger writer's copy of the account rows it has loaded, kept between batches.
//!
//! Why: loading a batch's accounts by id (one B-tree descent and one row decode per account,
//! two or three per transfer) was 11.9% of the SQLite writer in session 16's profile, and the
//! writer itself produced nearly every value it read back: it is the only writer of balances.
//!
//! Why a copy cannot go stale unseen: migration 000018's `ledger_generation` counter moves with
//! every ledger batch (any thread, any process) and with every change to an account's other
//! columns (a trigger). The writer reads the counter inside each batch's write transaction, where
//! nothing else can write, and keeps its copy only if the counter still holds the value its own
//! last committed batch left. After a failed batch the copy is dropped. And every account update
//! is still conditional on the balance the batch read, as before: a copy that was somehow stale
//! fails the batch instead of losing an update.
//!
//! PostgreSQL keeps no copy: several threads and processes write accounts there under row locks.

use std::collections::HashMap;

use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl, SqliteConnection};
use mkoba_ledger::{AccountId, AccountState};

use crate::store::StoreError;

/// One account as the writer last committed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedAccount {
    pub state: AccountState,
    /// The account's chain head (`store::chain`): its newest transaction.
    pub head: Option<i64>,
}

/// Accounts by id, valid for one value of `ledger_generation`, holding at most `capacity`.
#[derive(Debug)]
pub struct AccountCache {
    capacity: usize,
    /// The counter's value when the entries were right; `None` while empty.
    generation: Option<i64>,
    entries: HashMap<i64, CachedAccount>,
}

impl AccountCache {
    /// `capacity` is validated at start-up (`ledger.writer_account_cache_max`); 0 keeps nothing.
    pub fn new(capacity: usize) -> AccountCache {
        AccountCache {
            capacity,
            generation: None,
            entries: HashMap::new(),
        }
    }

    /// False for a copy of capacity 0: the batch need not gather anything for it.
    pub fn keeps_any(&self) -> bool {
        self.capacity > 0
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keeps the entries only if they were right at `generation`, the counter as it stands now.
    pub fn check(&mut self, generation: i64) {
        if self.generation != Some(generation) {
            self.clear();
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.generation = None;
    }

    pub fn get(&self, id: AccountId) -> Option<&CachedAccount> {
        self.entries.get(&id.0)
    }

    /// Records what a committed batch left, valid at `generation` (the value the batch set).
    /// A batch that would take the copy past its capacity starts it afresh: with accounts
    /// touched at random from a population larger than the copy, no eviction order keeps much
    /// more, and this one costs nothing per hit.
    pub fn store(
        &mut self,
        generation: i64,
        accounts: impl ExactSizeIterator<Item = CachedAccount>,
    ) {
        if self.generation != Some(generation.wrapping_sub(1)) && self.generation.is_some() {
            // Only the writer's own next batch may extend the copy; anything else starts over.
            self.clear();
        }
        if self.entries.len().saturating_add(accounts.len()) > self.capacity {
            self.clear();
        }
        if accounts.len() > self.capacity {
            return;
        }
        for account in accounts {
            self.entries.insert(account.state.id.0, account);
        }
        self.generation = Some(generation);
        assert!(self.entries.len() <= self.capacity);
    }
}

#[derive(QueryableByName)]
struct Generation {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The counter as it stands; call inside the batch's write transaction.
pub fn read_generation(c: &mut SqliteConnection) -> Result<i64, StoreError> {
    let row: Generation =
        diesel::sql_query("SELECT n FROM ledger_generation WHERE id = 1").get_result(c)?;
    Ok(row.n)
}

/// Moves the counter on for a ledger batch and returns its new value; `read` is the value the
/// batch read under the same write lock, so the update cannot miss.
pub fn advance_generation(c: &mut SqliteConnection, read: i64) -> Result<i64, StoreError> {
    let next = read
        .checked_add(1)
        .ok_or_else(|| StoreError::Corrupt("ledger_generation overflowed".into()))?;
    let updated = diesel::sql_query("UPDATE ledger_generation SET n = ? WHERE id = 1 AND n = ?")
        .bind::<BigInt, _>(next)
        .bind::<BigInt, _>(read)
        .execute(c)?;
    if updated != 1 {
        return Err(StoreError::Conflict(
            "ledger_generation moved under the batch".into(),
        ));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mkoba_ledger::{AccountKind, AccountStatus, Currency, Tier};

    fn account(id: i64, balance: i64) -> CachedAccount {
        CachedAccount {
            state: AccountState {
                id: AccountId(id),
                kind: AccountKind::CustomerWallet,
                currency: Currency::from_code("KES").unwrap(),
                status: AccountStatus::Active,
                tier: Tier::from_index(1).unwrap(),
                blacklisted: false,
                commission_account: None,
                balance_minor: balance,
                pending_debits_minor: 0,
                pending_credits_minor: 0,
                day_number: 0,
                day_debits_minor: 0,
            },
            head: Some(id * 10),
        }
    }

    #[test]
    fn entries_hold_only_for_the_generation_they_were_stored_at() {
        let mut cache = AccountCache::new(8);
        cache.store(5, [account(1, 100), account(2, 200)].into_iter());
        cache.check(5);
        assert_eq!(cache.get(AccountId(1)), Some(&account(1, 100)));
        // The writer's next batch moves the counter to 6 and extends the copy.
        cache.store(6, [account(1, 150), account(3, 300)].into_iter());
        cache.check(6);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(AccountId(1)).unwrap().state.balance_minor, 150);
        // Something else moved the counter: nothing is kept.
        cache.check(8);
        assert!(cache.is_empty());
        assert_eq!(cache.get(AccountId(2)), None);
    }

    #[test]
    fn a_store_that_skips_a_generation_starts_afresh() {
        let mut cache = AccountCache::new(8);
        cache.store(5, [account(1, 100)].into_iter());
        cache.store(9, [account(2, 200)].into_iter());
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(AccountId(1)), None);
    }

    #[test]
    fn the_copy_never_passes_its_capacity() {
        let mut cache = AccountCache::new(3);
        cache.store(1, [account(1, 1), account(2, 2)].into_iter());
        cache.store(2, [account(3, 3), account(4, 4)].into_iter());
        assert_eq!(cache.len(), 2, "started afresh rather than pass 3");
        assert_eq!(cache.get(AccountId(1)), None);
        assert!(cache.get(AccountId(4)).is_some());
        cache.store(3, (10..20i32).map(|id| account(id.into(), id.into())));
        assert!(
            cache.is_empty(),
            "a batch larger than the copy keeps nothing"
        );
        let mut none = AccountCache::new(0);
        none.store(1, [account(1, 1)].into_iter());
        assert!(none.is_empty());
    }
}
