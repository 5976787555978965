//! Customer PINs: verification with argon2id (on a blocking thread: it is slow on purpose), wrong
//! tries counted per customer across sessions and processes, and a lock after the configured
//! number of failures that only an agent can lift after checking ID.
//!
//! A check is three steps: [`begin`] reads the hash (no write), the hash is checked, and
//! [`finish`] settles the result against the count *as it stands after the check*. A right PIN
//! therefore costs no write at all when the count is zero (every payment of a customer who typed
//! it right the first time); a wrong one costs one.

use diesel::prelude::*;

use crate::app::App;
use crate::sms::outbox;
use crate::sms::templates::{Language, Message};
use crate::store::cached::cached;
use crate::store::db::write_transaction;
use crate::store::schema::customers;
use crate::store::{checkout, StoreError};
use crate::with_conn;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinCheck {
    Valid,
    Wrong {
        attempts_left: u32,
    },
    /// Locked now or before; the PIN was not even checked if it already was.
    Locked,
}

/// What a check needs, read before it. Public with [`begin`] and [`finish`] so that tests can
/// interleave concurrent checks deterministically.
pub struct Attempt {
    hash: String,
    msisdn: String,
    language: String,
}

impl Attempt {
    /// The stored argon2id hash to check the PIN against.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// Checks `pin` for a customer, counting a wrong one. The hash waits for a free argon2 slot
/// without holding a thread or a database connection (a PIN check takes tens of milliseconds,
/// and holding a pooled connection through it starved every other request under load).
pub async fn verify(
    app: &std::sync::Arc<App>,
    customer_id: i64,
    pin: String,
) -> Result<PinCheck, StoreError> {
    let a = std::sync::Arc::clone(app);
    let attempt = crate::store::blocking(move || begin(&a, customer_id)).await?;
    let Some(attempt) = attempt else {
        return Ok(PinCheck::Locked);
    };
    let valid = app
        .hasher
        .verify_async(pin, attempt.hash.clone())
        .await
        .map_err(|e| StoreError::Corrupt(format!("stored PIN hash: {e}")))?;
    let a = std::sync::Arc::clone(app);
    crate::store::blocking(move || finish(&a, customer_id, valid, &attempt)).await
}

/// [`verify`] on the calling thread, for callers that are not async.
pub fn verify_blocking(app: &App, customer_id: i64, pin: &str) -> Result<PinCheck, StoreError> {
    let Some(attempt) = begin(app, customer_id)? else {
        return Ok(PinCheck::Locked);
    };
    let valid = app
        .hasher
        .verify(pin, &attempt.hash)
        .map_err(|e| StoreError::Corrupt(format!("stored PIN hash: {e}")))?;
    finish(app, customer_id, valid, &attempt)
}

fn attempts_max(app: &App) -> i32 {
    i32::try_from(app.config.security.pin_attempts_max).unwrap_or(3)
}

/// Reads what a check needs; `None` if the customer does not exist, has no PIN, is locked, or
/// has no attempt left. Writes nothing: what a check may conclude is decided in [`finish`].
pub fn begin(app: &App, customer_id: i64) -> Result<Option<Attempt>, StoreError> {
    let mut conn = checkout(&app.pool)?;
    let found: Option<(Option<String>, String, String)> = with_conn!(&mut *conn, |c| cached(
        customers::table
            .find(customer_id)
            .filter(customers::pin_hash.is_not_null())
            .filter(customers::pin_locked.eq(false))
            .filter(customers::pin_failures.lt(attempts_max(app)))
            .select((customers::pin_hash, customers::msisdn, customers::language))
    )
    .get_result(c)
    .optional())?;
    Ok(found.and_then(|(hash, msisdn, language)| {
        hash.map(|hash| Attempt {
            hash,
            msisdn,
            language,
        })
    }))
}

/// Settles a checked PIN against the count as it stands now, not as [`begin`] saw it.
///
/// Guesses for one wallet may be checked at the same time, by many sessions or processes. Each
/// wrong one is counted by one conditional increment, and only while the count is under the
/// limit; a right one counts only if the count is still under the limit once it has been
/// checked. So of all the guesses ever made, only those settled before the limit was reached
/// can be answered `Valid` or `Wrong`: at most `max` of them, whatever the concurrency. The
/// rest are answered `Locked`, right or wrong, and tell the guesser nothing. (Deciding from
/// `begin`'s reading alone let every concurrent guess through before the first one counted.)
pub fn finish(
    app: &App,
    customer_id: i64,
    valid: bool,
    attempt: &Attempt,
) -> Result<PinCheck, StoreError> {
    if valid {
        settle_right(app, customer_id)
    } else {
        settle_wrong(app, customer_id, attempt)
    }
}

/// A right PIN: `Valid` only while the count is still under the limit, clearing a non-zero one.
fn settle_right(app: &App, customer_id: i64) -> Result<PinCheck, StoreError> {
    let mut conn = checkout(&app.pool)?;
    let max = attempts_max(app);
    let (failures, locked): (i32, bool) = with_conn!(&mut *conn, |c| cached(
        customers::table
            .find(customer_id)
            .select((customers::pin_failures, customers::pin_locked))
    )
    .get_result(c))?;
    if locked || failures >= max {
        return Ok(PinCheck::Locked);
    }
    if failures == 0 {
        return Ok(PinCheck::Valid);
    }
    // Cleared only while still under the limit: a wrong guess may have counted since.
    let cleared: Vec<i64> = with_conn!(&mut *conn, |c| cached(
        diesel::update(
            customers::table
                .find(customer_id)
                .filter(customers::pin_locked.eq(false))
                .filter(customers::pin_failures.lt(max))
        )
        .set(customers::pin_failures.eq(0))
        .returning(customers::id)
    )
    .load(c))?;
    Ok(if cleared.is_empty() {
        PinCheck::Locked
    } else {
        PinCheck::Valid
    })
}

/// A wrong PIN: counted only while under the limit; the guess that reaches it locks the wallet.
fn settle_wrong(app: &App, customer_id: i64, attempt: &Attempt) -> Result<PinCheck, StoreError> {
    let mut conn = checkout(&app.pool)?;
    let max = attempts_max(app);
    // The wrong guess that reaches the limit sets the lock in the same statement, and tells
    // the customer in the same transaction: exactly once, and never lost to a crash between.
    write_transaction(&mut conn, |c| {
        let counted: Option<(i32, bool)> = with_conn!(c, |c| cached(
            diesel::update(
                customers::table
                    .find(customer_id)
                    .filter(customers::pin_locked.eq(false))
                    .filter(customers::pin_failures.lt(max))
            )
            .set((
                customers::pin_failures.eq(customers::pin_failures + 1),
                customers::pin_locked.eq((customers::pin_failures + 1).ge(max)),
            ))
            .returning((customers::pin_failures, customers::pin_locked))
        )
        .get_result(c)
        .optional())?;
        match counted {
            // Another guess reached the limit first.
            None => Ok(PinCheck::Locked),
            Some((_, true)) => {
                let language =
                    Language::from_code(&attempt.language).unwrap_or(app.notify.default_language);
                outbox::enqueue(
                    c,
                    &app.notify,
                    &attempt.msisdn,
                    &Message::PinLocked,
                    language,
                    app.clock.now(),
                )?;
                tracing::warn!(customer_id, "wallet PIN-locked after repeated wrong PINs");
                Ok(PinCheck::Locked)
            }
            Some((failures, false)) => Ok(PinCheck::Wrong {
                attempts_left: u32::try_from(max - failures).unwrap_or(0),
            }),
        }
    })
}
