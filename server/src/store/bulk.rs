//! Writing a whole ledger batch with statements that are prepared once per connection.
//!
//! Why: measured on the ledger writer (mkoba-bench, SQLite), statement preparation and diesel's
//! per-row query building were over a third of a batch. diesel runs a `Vec` insert on SQLite as
//! one INSERT per row when any value may be `DEFAULT`, and marks a `VALUES` list of any length
//! as not cacheable, so every batch parsed its statements afresh. Here:
//! - inserts go in fixed-size array chunks, which diesel caches by type ([`insert_rows!`]);
//! - account updates run one fixed statement per account ([`AccountUpdate`]), cached by type.

use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::BigInt;
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};

/// Rows per multi-row INSERT. Full chunks are fixed-size arrays, which diesel identifies by type
/// and so keeps prepared; the remainder goes one cached single-row statement at a time.
pub const INSERT_CHUNK: usize = 64;

/// Inserts a slice of rows into a table in fixed-size chunks, then the remainder row by row:
/// every statement it runs is prepared once per connection. The rows' `Insertable` derive needs
/// `treat_none_as_default_value = false`, or SQLite would get one INSERT per row anyway.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        let mut chunks = rows.chunks_exact($crate::store::bulk::INSERT_CHUNK);
        let mut inserted: usize = 0;
        for chunk in &mut chunks {
            if let Ok(array) = <&[_; $crate::store::bulk::INSERT_CHUNK]>::try_from(chunk) {
                inserted += $crate::with_conn!(&mut *$conn, |c| diesel::insert_into($table)
                    .values(array)
                    .execute(c))?;
            }
        }
        for row in chunks.remainder() {
            inserted += $crate::with_conn!(&mut *$conn, |c| diesel::insert_into($table)
                .values(row)
                .execute(c))?;
        }
        if inserted != rows.len() {
            return Err($crate::store::StoreError::Conflict(format!(
                "{inserted} of {} rows inserted",
                rows.len()
            )));
        }
    }};
}

/// SQLite: one account's new state, written only if its balance is still the one the batch read.
pub struct AccountUpdate {
    pub id: i64,
    pub expected_balance: i64,
    pub balance: i64,
    pub pending_debits: i64,
    pub pending_credits: i64,
    pub day_number: i64,
    pub day_debits: i64,
}

/// The statement's cache key: one SQL text, whatever the values.
pub struct AccountUpdateId;

impl QueryId for AccountUpdate {
    type QueryId = AccountUpdateId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Sqlite> for AccountUpdate {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("UPDATE accounts SET balance_minor = ");
        out.push_bind_param::<BigInt, _>(&self.balance)?;
        out.push_sql(", pending_debits_minor = ");
        out.push_bind_param::<BigInt, _>(&self.pending_debits)?;
        out.push_sql(", pending_credits_minor = ");
        out.push_bind_param::<BigInt, _>(&self.pending_credits)?;
        out.push_sql(", day_number = ");
        out.push_bind_param::<BigInt, _>(&self.day_number)?;
        out.push_sql(", day_debits_minor = ");
        out.push_bind_param::<BigInt, _>(&self.day_debits)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        out.push_sql(" AND balance_minor = ");
        out.push_bind_param::<BigInt, _>(&self.expected_balance)?;
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for AccountUpdate {}
