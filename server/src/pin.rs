//! Customer PINs: verification with argon2id (on a blocking thread: it is slow on purpose), wrong
//! tries counted per customer across sessions and processes, and a lock after the configured
//! number of failures that only an agent can lift after checking ID.

use diesel::prelude::*;

use crate::app::App;
use crate::sms::outbox;
use crate::sms::templates::{Language, Message};
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

/// Checks `pin` for a customer, counting a wrong one. Runs on a blocking thread.
pub async fn verify(
    app: &std::sync::Arc<App>,
    customer_id: i64,
    pin: String,
) -> Result<PinCheck, StoreError> {
    let app = std::sync::Arc::clone(app);
    crate::store::blocking(move || verify_blocking(&app, customer_id, &pin)).await
}

pub fn verify_blocking(app: &App, customer_id: i64, pin: &str) -> Result<PinCheck, StoreError> {
    let mut conn = checkout(&app.pool)?;
    let found: Option<(Option<String>, bool, String, String)> =
        with_conn!(&mut *conn, |c| customers::table
            .find(customer_id)
            .select((
                customers::pin_hash,
                customers::pin_locked,
                customers::msisdn,
                customers::language
            ))
            .first(c)
            .optional())?;
    let Some((Some(hash), false, msisdn, language)) = found else {
        // No such customer, no PIN set, or already locked: nothing to check against.
        return Ok(PinCheck::Locked);
    };
    let max = i32::try_from(app.config.security.pin_attempts_max).unwrap_or(3);
    // The attempt is counted before the PIN is checked, in one conditional statement: however
    // many sessions guess at once, at most `max` guesses are ever checked. (Counting after the
    // slow check let every concurrent guess through before the first one locked the wallet.)
    let reserved = with_conn!(&mut *conn, |c| diesel::update(
        customers::table
            .find(customer_id)
            .filter(customers::pin_locked.eq(false))
            .filter(customers::pin_failures.lt(max))
    )
    .set(customers::pin_failures.eq(customers::pin_failures + 1))
    .execute(c))?;
    if reserved == 0 {
        return Ok(PinCheck::Locked);
    }
    let valid = app
        .hasher
        .verify(pin, &hash)
        .map_err(|e| StoreError::Corrupt(format!("stored PIN hash: {e}")))?;
    if valid {
        with_conn!(&mut *conn, |c| diesel::update(
            customers::table
                .find(customer_id)
                .filter(customers::pin_failures.gt(0))
        )
        .set(customers::pin_failures.eq(0))
        .execute(c))?;
        return Ok(PinCheck::Valid);
    }
    let failures: i32 = with_conn!(&mut *conn, |c| customers::table
        .find(customer_id)
        .select(customers::pin_failures)
        .first(c))?;
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
            let language = Language::from_code(&language).unwrap_or(app.notify.default_language);
            outbox::enqueue(
                &mut conn,
                &app.notify,
                &msisdn,
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
