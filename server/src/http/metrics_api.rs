//! `GET /metrics`: Prometheus text format. Gauges about the database are refreshed at each
//! scrape, so they cost nothing between scrapes. Nothing here is secret; still, expose it only
//! on the operator's network.

use std::sync::Arc;

use actix_web::{get, web, HttpResponse};
use diesel::sql_types::BigInt;
use diesel::QueryableByName;

use crate::app::App;
use crate::sms::outbox;
use crate::store::{checkout, StoreError};
use crate::with_conn;

/// Age buckets of open pending transfers, newest first, with their upper bounds in seconds.
const AGE_BUCKETS: [(&str, i64); 4] = [
    ("lt_1m", 60),
    ("1m_10m", 600),
    ("10m_1h", 3_600),
    ("gt_1h", i64::MAX),
];

#[derive(QueryableByName)]
struct Created {
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

fn refresh(app: &App) -> Result<(), StoreError> {
    let Some(m) = crate::metrics::get() else {
        return Ok(());
    };
    let state = app.pool.state();
    let total = i64::from(state.connections);
    let idle = i64::from(state.idle_connections);
    m.db_pool_connections
        .with_label_values(&["in_use"])
        .set(total - idle);
    m.db_pool_connections.with_label_values(&["idle"]).set(idle);
    m.db_pool_connections
        .with_label_values(&["max"])
        .set(i64::from(app.config.database.pool_size_max));

    let mut conn = checkout(&app.pool)?;
    for status in [
        "queued",
        "sending",
        "sent",
        "delivered",
        "undelivered",
        "failed",
    ] {
        m.sms_outbox_depth.with_label_values(&[status]).set(0);
    }
    for (status, n) in outbox::counts(&mut conn)? {
        m.sms_outbox_depth.with_label_values(&[&status]).set(n);
    }
    m.sms_confirmations_waiting
        .set(crate::sms::due::waiting(&mut conn)?);
    // Open reservations are few (each one holds a customer's money for minutes), so their
    // creation times are read and bucketed here rather than in dialect-specific SQL.
    let rows: Vec<Created> = with_conn!(&mut *conn, |c| diesel::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT t.created_at AS created_at FROM pending_transfers p \
             JOIN transactions t ON t.id = p.transaction_id WHERE p.status = 'open' LIMIT 100000"
        ),
        c
    ))?;
    let now = app.clock.now().0;
    let mut counts = [0_i64; AGE_BUCKETS.len()];
    for row in rows {
        let age_s = now.saturating_sub(row.created_at) / 1_000_000;
        let bucket = AGE_BUCKETS
            .iter()
            .position(|(_, max)| age_s < *max)
            .unwrap_or(AGE_BUCKETS.len() - 1);
        if let Some(slot) = counts.get_mut(bucket) {
            *slot += 1;
        }
    }
    for ((label, _), n) in AGE_BUCKETS.iter().zip(counts) {
        m.pending_transfers.with_label_values(&[label]).set(n);
    }
    Ok(())
}

#[get("/metrics")]
pub async fn metrics(app: web::Data<Arc<App>>) -> HttpResponse {
    let app = Arc::clone(&app);
    if let Err(err) = crate::store::blocking(move || refresh(&app)).await {
        // Counters still answer; only the database gauges are stale.
        tracing::warn!(error = %err, "refreshing database metrics failed");
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render())
}
