//! Statements kept prepared although diesel would prepare them afresh on every execution.
//!
//! diesel caches a prepared statement only when its query says it is safe to, and several kinds
//! never do: every `UPDATE` (an `AsChangeset` with optional fields can change its SQL from one
//! call to the next), upserts, raw `sql_query`s and `IN` lists built from a `Vec`. On the hot
//! paths that cost a parse and a plan per execution: a probe on `sqlite3LockAndPrepare` counted
//! about 28 preparations per USSD payment, against 40 statement steps.
//!
//! [`cached`] marks a query as safe to keep. Only a query that is *loaded* (`load`,
//! `get_result`) keeps the mark: `execute` hands diesel a reference to the query, and diesel's
//! blanket implementation for references asks the inner query again, which says no. Statements
//! run for their effect therefore end in `RETURNING` and are loaded. diesel then keys the cached statement by its SQL
//! text and bind types (not by the query's Rust type), so a query whose text does change simply
//! gets one entry per text: correct, but each distinct text stays in every connection's cache for
//! the connection's life. Queries whose text grows with a list therefore use
//! [`cached_if_short`], which keeps only the short variants (a single command's few accounts),
//! never one statement per batch size.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// Lists up to this long are cached by [`cached_if_short`]: one command's accounts and keys fit,
/// and a connection keeps at most this many variants of each such statement.
pub const SHORT_LIST_MAX: usize = 8;

/// A query diesel may keep prepared (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q> {
    query: Q,
    keep: bool,
}

/// `query`, kept prepared on each connection after its first execution.
pub fn cached<Q>(query: Q) -> Cached<Q> {
    Cached { query, keep: true }
}

/// `query`, whose SQL grows with a list of `list_len` items, kept prepared only when the list is
/// at most [`SHORT_LIST_MAX`] long.
pub fn cached_if_short<Q>(query: Q, list_len: usize) -> Cached<Q> {
    Cached {
        query,
        keep: list_len <= SHORT_LIST_MAX,
    }
}

/// `rows` in chunks of `first` rows while they last, then the remainder in halving chunks
/// (`first / 2`, …, 1): a multi-row statement built per chunk then has at most `log2(first) + 1`
/// texts, all worth keeping prepared. `first` must be a power of two.
pub fn halving_chunks<T>(rows: &[T], first: usize) -> impl Iterator<Item = &[T]> {
    debug_assert!(first.is_power_of_two());
    let mut rest = rows;
    let mut size = first.max(1);
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        while size > rest.len() {
            size /= 2;
        }
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    // Not static: the statement cache then keys on the SQL text, which is what makes caching a
    // query with a variable text correct.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> QueryFragment<DB> for Cached<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, backend: &DB) -> QueryResult<bool> {
        if self.keep {
            Ok(true)
        } else {
            self.query.is_safe_to_cache_prepared(backend)
        }
    }
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Cached<Q> {}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use diesel::connection::{Instrumentation, InstrumentationEvent};
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};

    use super::*;

    diesel::table! {
        items (id) {
            id -> BigInt,
            name -> Text,
            hits -> BigInt,
        }
    }

    /// The SQL of every statement the connection prepared for its cache.
    #[derive(Default, Clone)]
    pub(crate) struct Prepared(pub(crate) Arc<Mutex<Vec<String>>>);

    impl Instrumentation for Prepared {
        fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                if let Ok(mut seen) = self.0.lock() {
                    seen.push(sql.to_owned());
                }
            }
        }
    }

    fn connection() -> (SqliteConnection, Prepared) {
        let mut conn = SqliteConnection::establish(":memory:")
            .unwrap_or_else(|e| unreachable!("an in-memory SQLite database always opens: {e}"));
        diesel::sql_query(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, hits BIGINT NOT NULL)",
        )
        .execute(&mut conn)
        .unwrap_or_else(|e| unreachable!("{e}"));
        for (id, name) in [(1_i64, "a"), (2, "b"), (3, "c")] {
            diesel::sql_query("INSERT INTO items (id, name, hits) VALUES (?, ?, 0)")
                .bind::<BigInt, _>(id)
                .bind::<Text, _>(name)
                .execute(&mut conn)
                .unwrap_or_else(|e| unreachable!("{e}"));
        }
        let prepared = Prepared::default();
        conn.set_instrumentation(prepared.clone());
        (conn, prepared)
    }

    fn bump(conn: &mut SqliteConnection, id: i64, wrap: bool) -> QueryResult<i64> {
        let update = diesel::update(items::table.find(id))
            .set(items::hits.eq(items::hits + 1))
            .returning(items::hits);
        if wrap {
            cached(update).get_result(conn)
        } else {
            update.get_result(conn)
        }
    }

    #[test]
    fn halving_chunks_cover_every_row_once_in_few_sizes() {
        for len in [0_usize, 1, 5, 63, 64, 65, 130, 200] {
            let rows: Vec<usize> = (0..len).collect();
            let chunks: Vec<&[usize]> = halving_chunks(&rows, 64).collect();
            let flat: Vec<usize> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
            assert_eq!(flat, rows, "every row once, in order ({len} rows)");
            assert!(chunks
                .iter()
                .all(|c| c.len().is_power_of_two() && c.len() <= 64));
            // Sizes never grow again after the first smaller chunk.
            assert!(chunks.windows(2).all(|w| w[0].len() >= w[1].len()), "{len}");
        }
        let rows: Vec<usize> = (0..100).collect();
        let sizes: Vec<usize> = halving_chunks(&rows, 64).map(<[usize]>::len).collect();
        assert_eq!(sizes, [64, 32, 4]);
    }

    #[test]
    fn a_cached_update_is_prepared_once_and_still_does_its_work() -> QueryResult<()> {
        let (mut conn, prepared) = connection();
        for round in 1..=3 {
            assert_eq!(bump(&mut conn, 1, true)?, round);
            assert_eq!(bump(&mut conn, 2, true)?, round);
        }
        let seen = prepared.0.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(seen.len(), 1, "one UPDATE text, prepared once: {seen:?}");
        assert!(seen.iter().all(|sql| sql.starts_with("UPDATE")), "{seen:?}");
        // Without the wrapper diesel never caches an UPDATE: nothing is added to the cache.
        assert_eq!(bump(&mut conn, 3, false)?, 1);
        assert_eq!(prepared.0.lock().map(|s| s.len()).unwrap_or(0), 1);
        Ok(())
    }

    #[derive(diesel::QueryableByName)]
    struct Hits {
        #[diesel(sql_type = BigInt)]
        hits: i64,
    }

    #[test]
    fn a_raw_upsert_is_kept_when_loaded_but_not_when_executed() -> QueryResult<()> {
        let (mut conn, prepared) = connection();
        let upsert = "INSERT INTO items (id, name, hits) VALUES (?, ?, 1) \
                      ON CONFLICT (id) DO UPDATE SET hits = hits + 1 RETURNING hits";
        for expected in [1_i64, 2, 3] {
            let query = diesel::sql_query(upsert)
                .into_boxed()
                .bind::<BigInt, _>(9_i64)
                .bind::<Text, _>("z");
            let rows: Vec<Hits> = cached(query).load(&mut conn)?;
            assert_eq!(rows.iter().map(|r| r.hits).collect::<Vec<_>>(), [expected]);
        }
        assert_eq!(prepared.0.lock().map(|s| s.len()).unwrap_or(0), 1);
        // `execute` passes a reference, which forgets the mark (see the module documentation):
        // the statement runs but is not kept. If diesel changes that, this fails and the
        // `RETURNING … load` detours in the callers can go.
        let query = diesel::sql_query("UPDATE items SET hits = hits + 1 WHERE id = ?")
            .into_boxed()
            .bind::<BigInt, _>(9_i64);
        assert_eq!(cached(query).execute(&mut conn)?, 1);
        assert_eq!(prepared.0.lock().map(|s| s.len()).unwrap_or(0), 1);
        Ok(())
    }

    #[test]
    fn lists_are_cached_per_length_only_while_short() -> QueryResult<()> {
        let (mut conn, prepared) = connection();
        let names = |conn: &mut SqliteConnection, ids: &[i64]| -> QueryResult<Vec<String>> {
            cached_if_short(
                items::table
                    .filter(items::id.eq_any(ids))
                    .order(items::id)
                    .select(items::name),
                ids.len(),
            )
            .load(conn)
        };
        // Same length twice: one entry; a different length: another entry with its own text.
        assert_eq!(names(&mut conn, &[1, 2])?, ["a", "b"]);
        assert_eq!(names(&mut conn, &[2, 3])?, ["b", "c"]);
        assert_eq!(names(&mut conn, &[3])?, ["c"]);
        assert_eq!(prepared.0.lock().map(|s| s.len()).unwrap_or(0), 2);
        // A long list answers correctly and is not kept.
        let long: Vec<i64> = (1..=i64::try_from(SHORT_LIST_MAX + 1).unwrap_or(9)).collect();
        assert_eq!(names(&mut conn, &long)?, ["a", "b", "c"]);
        assert_eq!(prepared.0.lock().map(|s| s.len()).unwrap_or(0), 2);
        Ok(())
    }
}
