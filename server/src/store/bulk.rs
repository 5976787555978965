//! Writing a whole ledger batch with statements that are prepared once per connection.
//!
//! Why: measured on the ledger writer (mkoba-bench, SQLite), statement preparation and diesel's
//! per-row query building were over a third of a batch. diesel runs a `Vec` insert on SQLite as
//! one INSERT per row when any value may be `DEFAULT`, and marks a `VALUES` list of any length
//! as not cacheable, so every batch parsed its statements afresh. Here:
//! - inserts go in fixed-size array chunks, which diesel caches by type ([`insert_rows!`]);
//! - account updates run one fixed statement per account ([`AccountUpdate`]), cached by type.

use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Nullable};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};

/// Inserts a slice of rows in fixed-size array chunks: 64 rows while they last, then the
/// remainder in halving chunks (32, 16, …, 1). diesel identifies a fixed-size array by its type
/// and so keeps each of these seven statements prepared; `n` rows take at most `n / 64 + 6` of
/// them (before: the remainder went one row per statement, 20 statements for a typical batch).
/// The rows' `Insertable` derive needs `treat_none_as_default_value = false`, or SQLite would get
/// one INSERT per row anyway.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        let mut rest: &[_] = rows;
        let mut inserted: usize = 0;
        $crate::insert_rows!(@chunks $conn, $table, rest, inserted, 64);
        $crate::insert_rows!(@chunks $conn, $table, rest, inserted, 32);
        $crate::insert_rows!(@chunks $conn, $table, rest, inserted, 16);
        $crate::insert_rows!(@chunks $conn, $table, rest, inserted, 8);
        $crate::insert_rows!(@chunks $conn, $table, rest, inserted, 4);
        $crate::insert_rows!(@chunks $conn, $table, rest, inserted, 2);
        $crate::insert_rows!(@chunks $conn, $table, rest, inserted, 1);
        if inserted != rows.len() || !rest.is_empty() {
            return Err($crate::store::StoreError::Conflict(format!(
                "{inserted} of {} rows inserted",
                rows.len()
            )));
        }
    }};
    (@chunks $conn:expr, $table:expr, $rest:ident, $inserted:ident, $size:literal) => {
        while let Some((chunk, tail)) = $rest.split_first_chunk::<$size>() {
            $inserted += $crate::with_conn!(&mut *$conn, |c| diesel::insert_into($table)
                .values(chunk)
                .execute(c))?;
            $rest = tail;
        }
    };
}

/// The account columns a ledger batch writes.
pub struct AccountColumns {
    pub balance: i64,
    pub pending_debits: i64,
    pub pending_credits: i64,
    pub day_number: i64,
    pub day_debits: i64,
    pub last_transaction_id: Option<i64>,
}

/// SQLite: one account's new state, written only if its balance and chain head are still the ones
/// the batch read. The batch may have read them from the writer's copy (`store::account_cache`),
/// which only a change behind the ledger's back could make stale: a tool correcting a balance, or
/// a damaged chain. Either fails the batch instead of being overwritten. (The reservations and
/// day counters are written by ledger batches alone, and each column compared costs every
/// update: all six were measured at 3% of the writer.)
pub struct AccountUpdate {
    pub id: i64,
    pub read_balance: i64,
    pub read_head: Option<i64>,
    pub new: AccountColumns,
}

/// The statement's cache key: one SQL text, whatever the values.
pub struct AccountUpdateId;

impl QueryId for AccountUpdate {
    type QueryId = AccountUpdateId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Sqlite> for AccountUpdate {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        let new = &self.new;
        out.push_sql("UPDATE accounts SET balance_minor = ");
        out.push_bind_param::<BigInt, _>(&new.balance)?;
        out.push_sql(", pending_debits_minor = ");
        out.push_bind_param::<BigInt, _>(&new.pending_debits)?;
        out.push_sql(", pending_credits_minor = ");
        out.push_bind_param::<BigInt, _>(&new.pending_credits)?;
        out.push_sql(", day_number = ");
        out.push_bind_param::<BigInt, _>(&new.day_number)?;
        out.push_sql(", day_debits_minor = ");
        out.push_bind_param::<BigInt, _>(&new.day_debits)?;
        out.push_sql(", last_transaction_id = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&new.last_transaction_id)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        out.push_sql(" AND balance_minor = ");
        out.push_bind_param::<BigInt, _>(&self.read_balance)?;
        // `IS`: NULL (no transaction yet) matches NULL.
        out.push_sql(" AND last_transaction_id IS ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.read_head)?;
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for AccountUpdate {}
