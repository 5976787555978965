//! Each account's history as a chain through the journal. Every posting names, for its debit
//! and for its credit account, the previous transaction that touched that account
//! (`debit_prev_txn`, `credit_prev_txn`), and the account names its newest one
//! (`accounts.last_transaction_id`).
//!
//! Why not an index on postings by account: such an index takes every posting on a random page,
//! one per active account, in a tree that grows with the journal; at 10M transactions that cost
//! the SQLite ledger a quarter of its throughput. The chain costs nothing extra to write (the
//! journal rows are appended and the account row is rewritten for its balance anyway), and
//! reading a statement page follows as many primary-key links as the page has transactions.
//!
//! Links always point to a smaller transaction id: a batch locks its accounts before it takes its
//! ids, so on any one account ids follow the order of commits. [`link`] refuses anything else,
//! and `reconcile` checks every link against the journal.

use std::collections::BTreeMap;

use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};

use crate::store::rows::PostingRow;
use crate::store::{AnyConnection, StoreError};
use crate::with_conn;

/// How far a walk may go back past its window or cursor before it gives up: the bound on the
/// work of one statement request that names a cursor or dates the chain cannot reach directly.
pub const SEEK_STEPS_MAX: i64 = 10_000;

/// The most transactions one walk returns, whatever a caller asks.
pub const WALK_STEPS_MAX: i64 = 100_000;

/// Clocks of concurrent writers may differ a little, so a chain is not strictly ordered by time.
/// A walk bounded by a date goes this far past it before it stops.
const CLOCK_SLACK_MICROS: i64 = 60_000_000;

/// One account's chain end during a batch.
#[derive(Clone, Copy, Debug, Default)]
struct End {
    /// The newest transaction on the account.
    head: Option<i64>,
    /// The link of the head's postings on the account, once the batch wrote the head.
    written: Option<Option<i64>>,
}

/// The head of each touched account's chain as the batch found it, and after the batch.
#[derive(Clone, Debug, Default)]
pub struct Heads {
    by_account: BTreeMap<i64, End>,
}

impl Heads {
    pub fn new(loaded: impl IntoIterator<Item = (i64, Option<i64>)>) -> Heads {
        Heads {
            by_account: loaded
                .into_iter()
                .map(|(account, head)| {
                    (
                        account,
                        End {
                            head,
                            written: None,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The account's newest transaction, if it has one and was loaded.
    pub fn head(&self, account: i64) -> Option<i64> {
        self.by_account.get(&account).and_then(|end| end.head)
    }

    /// Accounts whose head the batch moved, by id.
    pub fn moved(&self) -> impl Iterator<Item = i64> + '_ {
        self.by_account
            .iter()
            .filter(|(_, end)| end.written.is_some())
            .map(|(account, _)| *account)
    }

    /// The link for a posting of `txn` on `account`, advancing the head. A transaction's
    /// postings on one account all carry the same link: the transaction before it.
    fn link(&mut self, account: i64, txn: i64) -> Result<Option<i64>, StoreError> {
        let end = self.by_account.get_mut(&account).ok_or_else(|| {
            StoreError::Conflict(format!(
                "posting on account {account}, which the batch did not load"
            ))
        })?;
        if let (Some(head), Some(link)) = (end.head, end.written) {
            if head == txn {
                return Ok(link);
            }
        }
        if end.head.is_some_and(|head| head >= txn) {
            return Err(StoreError::Conflict(format!(
                "transaction {txn} would go behind {:?} on account {account}'s chain",
                end.head
            )));
        }
        let link = end.head;
        *end = End {
            head: Some(txn),
            written: Some(link),
        };
        Ok(link)
    }
}

/// Fills in the links of a batch's new postings (in journal order) and moves the heads.
pub fn link(postings: &mut [PostingRow], heads: &mut Heads) -> Result<(), StoreError> {
    for p in postings.iter_mut() {
        p.debit_prev_txn = heads.link(p.debit_account_id, p.transaction_id)?;
        p.credit_prev_txn = heads.link(p.credit_account_id, p.transaction_id)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Step {
    #[diesel(sql_type = BigInt)]
    txn: i64,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

/// A transaction on the chain: its id and when it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainTxn {
    pub id: i64,
    pub created_at: i64,
}

/// Up to `steps` transactions of `account`'s chain, newest first, starting at `start` (which
/// must be on the chain) and going no further back than the first one written before `since`
/// (less the clock slack). One recursive query; each step is a primary-key lookup.
pub fn walk_from(
    conn: &mut AnyConnection,
    account: i64,
    start: i64,
    steps: i64,
    since: Option<i64>,
) -> Result<Vec<ChainTxn>, StoreError> {
    let steps = steps.clamp(0, WALK_STEPS_MAX);
    if steps == 0 {
        return Ok(Vec::new());
    }
    let floor = since.map_or(i64::MIN, |s| s.saturating_sub(CLOCK_SLACK_MICROS));
    // $2 is the account in each place; SQLite reads `?2` as the same bound value.
    let sql = "WITH RECURSIVE chain(txn, created_at, steps) AS ( \
           SELECT id, created_at, 1 FROM transactions WHERE id = $1 \
           UNION ALL \
           SELECT t.id, t.created_at, chain.steps + 1 FROM chain JOIN transactions t ON t.id = ( \
             SELECT CASE WHEN p.debit_account_id = $2 THEN p.debit_prev_txn ELSE p.credit_prev_txn END \
             FROM postings p WHERE p.transaction_id = chain.txn \
               AND (p.debit_account_id = $2 OR p.credit_account_id = $2) LIMIT 1) \
           WHERE chain.steps < $3 AND chain.created_at >= $4) \
         SELECT txn, created_at FROM chain";
    let sql = match conn {
        AnyConnection::Postgres(_) => sql.to_owned(),
        AnyConnection::Sqlite(_) => sql.replace('$', "?"),
    };
    let rows: Vec<Step> = with_conn!(conn, |c| diesel::sql_query(&sql)
        .bind::<BigInt, _>(start)
        .bind::<BigInt, _>(account)
        .bind::<BigInt, _>(steps)
        .bind::<BigInt, _>(floor)
        .load(c))?;
    let walked: Vec<ChainTxn> = rows
        .into_iter()
        .map(|r| ChainTxn {
            id: r.txn,
            created_at: r.created_at,
        })
        .collect();
    // Release-build check of the chain's order: a link that pointed forward would loop.
    if walked
        .windows(2)
        .any(|w| matches!(w, [a, b] if b.id >= a.id))
    {
        return Err(StoreError::Corrupt(format!(
            "account {account}'s chain does not go back in time"
        )));
    }
    Ok(walked)
}

/// The newest transaction on `account`, if any.
pub fn head(conn: &mut AnyConnection, account: i64) -> Result<Option<i64>, StoreError> {
    use crate::store::schema::accounts;
    use diesel::prelude::*;
    let found: Option<Option<i64>> = with_conn!(conn, |c| accounts::table
        .find(account)
        .select(accounts::last_transaction_id)
        .get_result(c)
        .optional())?;
    Ok(found.flatten())
}

/// The link from `txn` back along `account`'s chain, if `txn` touched `account`: `Some(link)`
/// (the link itself may be `None`, the chain's start), or `None` when `txn` is not on the chain.
fn link_of(
    conn: &mut AnyConnection,
    account: i64,
    txn: i64,
) -> Result<Option<Option<i64>>, StoreError> {
    use crate::store::schema::postings;
    use diesel::prelude::*;
    let rows: Vec<(i64, Option<i64>, Option<i64>)> = with_conn!(conn, |c| postings::table
        .filter(postings::transaction_id.eq(txn))
        .filter(
            postings::debit_account_id
                .eq(account)
                .or(postings::credit_account_id.eq(account)),
        )
        .select((
            postings::debit_account_id,
            postings::debit_prev_txn,
            postings::credit_prev_txn,
        ))
        .limit(1)
        .load(c))?;
    Ok(rows
        .into_iter()
        .next()
        .map(|(debit, debit_prev, credit_prev)| {
            if debit == account {
                debit_prev
            } else {
                credit_prev
            }
        }))
}

/// Where a walk for transactions older than `before` (exclusive) starts: the newest chain
/// transaction below it. The cursors the statement pages hand out are a transaction on the
/// chain or one above such a transaction, found in one lookup each; any other value is found by
/// walking from the head, at most [`SEEK_STEPS_MAX`] steps (past that, the walk has nothing).
pub fn start_below(
    conn: &mut AnyConnection,
    account: i64,
    before: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    let Some(head) = head(conn, account)? else {
        return Ok(None);
    };
    let Some(before) = before else {
        return Ok(Some(head));
    };
    if head < before {
        return Ok(Some(head));
    }
    if before > i64::MIN && link_of(conn, account, before - 1)?.is_some() {
        return Ok(Some(before - 1));
    }
    if let Some(link) = link_of(conn, account, before)? {
        return Ok(link);
    }
    let seek = walk_from(conn, account, head, SEEK_STEPS_MAX, None)?;
    Ok(seek.iter().map(|t| t.id).find(|id| *id < before))
}

/// Walks `account`'s chain newest first from `start`, in rounds of growing size (the first of
/// `first` transactions), handing each round to `take` until it returns `false`, the chain ends
/// or runs past `since`, or `budget` transactions have been walked.
pub fn each_round(
    conn: &mut AnyConnection,
    account: i64,
    start: Option<i64>,
    since: Option<i64>,
    first: i64,
    budget: i64,
    mut take: impl FnMut(&mut AnyConnection, &[ChainTxn]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    const ROUND_MAX: i64 = 4_096;
    let mut next = start;
    let mut left = budget.clamp(0, WALK_STEPS_MAX);
    let mut round = first.clamp(1, ROUND_MAX);
    while let Some(from) = next {
        let steps = round.min(left);
        if steps == 0 {
            break;
        }
        // One more than the round, to learn where the next round starts.
        let mut walked = walk_from(conn, account, from, steps.saturating_add(1), since)?;
        let full = i64::try_from(walked.len()).unwrap_or(i64::MAX) > steps;
        next = if full {
            walked.pop().map(|t| t.id)
        } else {
            None
        };
        if let Some(floor) = since.map(|s| s.saturating_sub(CLOCK_SLACK_MICROS)) {
            if walked.last().is_some_and(|t| t.created_at < floor) {
                next = None;
            }
        }
        left = left.saturating_sub(steps);
        if !take(conn, &walked)? {
            break;
        }
        round = round.saturating_mul(2).min(ROUND_MAX);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posting(txn: i64, seq: i16, debit: i64, credit: i64) -> PostingRow {
        PostingRow {
            transaction_id: txn,
            seq,
            leg: "principal".into(),
            debit_account_id: debit,
            credit_account_id: credit,
            amount_minor: 1,
            reservation: false,
            debit_prev_txn: None,
            credit_prev_txn: None,
        }
    }

    #[test]
    fn postings_link_to_each_accounts_previous_transaction() {
        // Account 1 had transaction 5 already; 2 and 3 had nothing.
        let mut heads = Heads::new([(1, Some(5)), (2, None), (3, None)]);
        let mut rows = vec![
            posting(10, 0, 1, 2), // principal: 1 pays 2
            posting(10, 1, 1, 3), // fee leg of the same transaction: 1 pays 3
            posting(11, 0, 2, 1), // 2 pays 1 back
        ];
        link(&mut rows, &mut heads).unwrap();
        let links: Vec<(Option<i64>, Option<i64>)> = rows
            .iter()
            .map(|p| (p.debit_prev_txn, p.credit_prev_txn))
            .collect();
        assert_eq!(
            links,
            vec![(Some(5), None), (Some(5), None), (Some(10), Some(10))],
            "both legs of transaction 10 on account 1 link to 5; transaction 11 links to 10"
        );
        assert_eq!(heads.head(1), Some(11));
        assert_eq!(heads.head(2), Some(11));
        assert_eq!(heads.head(3), Some(10));
        assert_eq!(heads.moved().collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn a_posting_that_would_go_back_in_time_is_refused() {
        let mut heads = Heads::new([(1, Some(20)), (2, None)]);
        let err = link(&mut [posting(20, 0, 2, 1)], &mut heads.clone()).unwrap_err();
        assert!(format!("{err:?}").contains("behind"), "{err:?}");
        let err = link(&mut [posting(7, 0, 1, 2)], &mut heads).unwrap_err();
        assert!(format!("{err:?}").contains("behind"), "{err:?}");
    }

    #[test]
    fn a_posting_on_an_account_the_batch_did_not_load_is_refused() {
        let mut heads = Heads::new([(1, None)]);
        let err = link(&mut [posting(3, 0, 1, 9)], &mut heads).unwrap_err();
        assert!(format!("{err:?}").contains("did not load"), "{err:?}");
    }
}
