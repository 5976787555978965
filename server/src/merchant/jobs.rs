//! Periodic work for the merchant API: lapse unanswered requests, send the daily SMS summing up
//! small allowance charges, and forget old request signatures.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use mkoba_ledger::{Money, Timestamp};

use crate::app::App;
use crate::merchant::api::{allowance_event, announce, request_event};
use crate::merchant::store::{self as mstore};
use crate::sms::notify::NewOutboxRow;
use crate::sms::templates::{Language, Message};
use crate::store::db::write_transaction;
use crate::store::schema::{
    allowance_charges, allowances, charge_summaries, customers, sms_outbox,
};
use crate::store::{blocking, checkout, AnyConnection, StoreError};
use crate::with_conn;

const LAPSE_BATCH_MAX: i64 = 200;
const SUMMARY_BATCH_MAX: i64 = 500;

/// Marks requests past their expiry and tells their merchants. Returns how many lapsed.
pub fn lapse_due(app: &App, conn: &mut AnyConnection, now: Timestamp) -> Result<usize, StoreError> {
    write_transaction(conn, |conn| {
        let (requests, allowance_rows) = mstore::due_to_lapse(conn, now.0, LAPSE_BATCH_MAX)?;
        let mut lapsed = 0;
        for row in requests {
            if mstore::close_payment_request(conn, &row.public_id, "expired", None, now.0)? {
                let who = mstore::pseudonym(
                    conn,
                    &app.merchant.pseudonym_key,
                    row.merchant_id,
                    row.customer_id,
                )?;
                announce(
                    conn,
                    row.merchant_id,
                    "payment_request.expired",
                    request_event(&row, &who),
                    now,
                )?;
                lapsed += 1;
            }
        }
        for mut row in allowance_rows {
            if mstore::set_allowance_status(conn, &row.public_id, "requested", "lapsed", now.0)? {
                row.status = "lapsed".into();
                let who = mstore::pseudonym(
                    conn,
                    &app.merchant.pseudonym_key,
                    row.merchant_id,
                    row.customer_id,
                )?;
                announce(
                    conn,
                    row.merchant_id,
                    "allowance.lapsed",
                    allowance_event(&row, &who),
                    now,
                )?;
                lapsed += 1;
            }
        }
        Ok(lapsed)
    })
}

/// For every customer with small charges on a past local day not yet summed up, one SMS with
/// their count and total. The summary row and the SMS are written in one transaction, so each
/// day is summed up once even with several processes.
pub fn send_summaries(
    app: &App,
    conn: &mut AnyConnection,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let offset = i64::from(app.config.ledger.rules.utc_offset_seconds) * 1_000_000;
    let day_us = 86_400 * 1_000_000_i64;
    let today = (now.0 + offset).div_euclid(day_us);
    let small = app.config.merchant_api.small_charge_minor;
    // Yesterday's charges only: older days were summed up when they were yesterday.
    let from = (today - 1) * day_us - offset;
    let to = today * day_us - offset;
    write_transaction(conn, |conn| {
        let rows: Vec<(i64, i64, String, String, String)> =
            with_conn!(&mut *conn, |c| allowance_charges::table
                .inner_join(
                    allowances::table.on(allowances::id.eq(allowance_charges::allowance_id))
                )
                .inner_join(customers::table.on(customers::id.eq(allowances::customer_id)))
                .filter(allowance_charges::created_at.ge(from))
                .filter(allowance_charges::created_at.lt(to))
                .filter(allowance_charges::amount_minor.lt(small))
                .limit(SUMMARY_BATCH_MAX * 100)
                .select((
                    customers::id,
                    allowance_charges::amount_minor,
                    allowances::currency,
                    customers::msisdn,
                    customers::language,
                ))
                .load(c))?;
        let mut per_customer: std::collections::BTreeMap<i64, (u32, i64, String, String, String)> =
            std::collections::BTreeMap::new();
        for (customer, amount, currency, msisdn, language) in rows {
            let entry = per_customer
                .entry(customer)
                .or_insert((0, 0, currency, msisdn, language));
            entry.0 = entry.0.saturating_add(1);
            entry.1 = entry.1.saturating_add(amount);
        }
        let mut sent = 0;
        for (customer, (count, total, currency, msisdn, language)) in per_customer {
            let claimed = with_conn!(&mut *conn, |c| diesel::insert_into(charge_summaries::table)
                .values((
                    charge_summaries::customer_id.eq(customer),
                    charge_summaries::day_number.eq(today - 1),
                    charge_summaries::created_at.eq(now.0),
                ))
                .on_conflict_do_nothing()
                .execute(c))?;
            if claimed == 0 {
                continue;
            }
            let currency = crate::store::rows::currency(&currency)?;
            let (date, _) = crate::sms::localtime::local_date_time(
                Timestamp(from),
                app.config.ledger.rules.utc_offset_seconds,
            );
            let message = Message::ChargeSummary {
                count,
                total: Money::from_minor(total, currency),
                date,
            };
            let language = Language::from_code(&language).unwrap_or(Language::En);
            let row = NewOutboxRow::new(&msisdn, &message, language, None, now, &app.notify);
            with_conn!(&mut *conn, |c| diesel::insert_into(sms_outbox::table)
                .values(std::slice::from_ref(&row))
                .execute(c))?;
            sent += 1;
        }
        Ok(sent)
    })
}

/// One round of every job.
pub fn run_once(app: &App) -> Result<(usize, usize), StoreError> {
    let mut conn = checkout(&app.pool)?;
    let now = app.clock.now();
    let lapsed = lapse_due(app, &mut conn, now)?;
    let summaries = send_summaries(app, &mut conn, now)?;
    crate::merchant::auth::purge_signatures(
        &mut conn,
        now.0 / 1_000_000,
        app.config.merchant_api.signature_window_seconds,
    )?;
    Ok((lapsed, summaries))
}

pub fn spawn(app: &Arc<App>) {
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let interval = Duration::from_millis(app.config.ledger.expiry_sweep_interval_ms.max(1_000));
        loop {
            let app2 = Arc::clone(&app);
            if let Err(e) = blocking(move || run_once(&app2)).await {
                tracing::warn!(error = %e, "merchant jobs round failed");
            }
            tokio::time::sleep(interval).await;
        }
    });
}
