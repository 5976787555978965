//! Customer PINs: verification with argon2id (on a blocking thread: it is slow on purpose), wrong
//! tries counted per customer across sessions and processes, and a lock after the configured
//! number of failures that only an agent can lift after checking ID.

use diesel::prelude::*;

use crate::app::App;
use crate::sms::outbox;
use crate::sms::templates::{Language, Message};
use crate::store::cached::cached;
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

/// What is needed to check a PIN once an attempt is reserved.
struct Reserved {
    hash: String,
    msisdn: String,
    language: String,
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
    let reserved = crate::store::blocking(move || reserve(&a, customer_id)).await?;
    let Some(reserved) = reserved else {
        return Ok(PinCheck::Locked);
    };
    let valid = app
        .hasher
        .verify_async(pin, reserved.hash.clone())
        .await
        .map_err(|e| StoreError::Corrupt(format!("stored PIN hash: {e}")))?;
    let a = std::sync::Arc::clone(app);
    crate::store::blocking(move || record(&a, customer_id, valid, &reserved)).await
}

/// [`verify`] on the calling thread, for callers that are not async.
pub fn verify_blocking(app: &App, customer_id: i64, pin: &str) -> Result<PinCheck, StoreError> {
    let Some(reserved) = reserve(app, customer_id)? else {
        return Ok(PinCheck::Locked);
    };
    let valid = app
        .hasher
        .verify(pin, &reserved.hash)
        .map_err(|e| StoreError::Corrupt(format!("stored PIN hash: {e}")))?;
    record(app, customer_id, valid, &reserved)
}

/// Counts an attempt before the PIN is checked and reads what the check needs, in one
/// statement; `None` if the wallet is locked, has no PIN, or has no attempt left.
fn reserve(app: &App, customer_id: i64) -> Result<Option<Reserved>, StoreError> {
    let mut conn = checkout(&app.pool)?;
    let max = i32::try_from(app.config.security.pin_attempts_max).unwrap_or(3);
    // The attempt is counted before the PIN is checked, in one conditional statement: however
    // many sessions guess at once, at most `max` guesses are ever checked. (Counting after the
    // slow check let every concurrent guess through before the first one locked the wallet.)
    // No row back: no such customer, no PIN set, already locked, or no attempt left.
    let reserved: Option<(Option<String>, String, String)> = with_conn!(&mut *conn, |c| cached(
        diesel::update(
            customers::table
                .find(customer_id)
                .filter(customers::pin_hash.is_not_null())
                .filter(customers::pin_locked.eq(false))
                .filter(customers::pin_failures.lt(max))
        )
        .set(customers::pin_failures.eq(customers::pin_failures + 1))
        .returning((customers::pin_hash, customers::msisdn, customers::language))
    )
    .get_result(c)
    .optional())?;
    Ok(reserved.and_then(|(hash, msisdn, language)| {
        hash.map(|hash| Reserved {
            hash,
            msisdn,
            language,
        })
    }))
}

/// After the check: a right PIN clears the count; a wrong one leaves it counted and, at the
/// limit, locks the wallet and tells the customer once.
fn record(
    app: &App,
    customer_id: i64,
    valid: bool,
    reserved: &Reserved,
) -> Result<PinCheck, StoreError> {
    let mut conn = checkout(&app.pool)?;
    let max = i32::try_from(app.config.security.pin_attempts_max).unwrap_or(3);
    if valid {
        let _cleared: Vec<i64> = with_conn!(&mut *conn, |c| cached(
            diesel::update(
                customers::table
                    .find(customer_id)
                    .filter(customers::pin_failures.gt(0))
            )
            .set(customers::pin_failures.eq(0))
            .returning(customers::id)
        )
        .load(c))?;
        return Ok(PinCheck::Valid);
    }
    let failures: i32 = with_conn!(&mut *conn, |c| customers::table
        .find(customer_id)
        .select(customers::pin_failures)
        .get_result(c))?;
    if failures >= max {
        // Whoever sets the lock tells the customer, once.
        let locked_now = with_conn!(&mut *conn, |c| diesel::update(
            customers::table
                .find(customer_id)
                .filter(customers::pin_locked.eq(false))
        )
        .set(customers::pin_locked.eq(true))
        .execute(c))?;
        if locked_now == 1 {
            let language =
                Language::from_code(&reserved.language).unwrap_or(app.notify.default_language);
            outbox::enqueue(
                &mut conn,
                &app.notify,
                &reserved.msisdn,
                &Message::PinLocked,
                language,
                app.clock.now(),
            )?;
            tracing::warn!(customer_id, "wallet PIN-locked after repeated wrong PINs");
        }
        return Ok(PinCheck::Locked);
    }
    Ok(PinCheck::Wrong {
        attempts_left: u32::try_from(max - failures).unwrap_or(0),
    })
}
