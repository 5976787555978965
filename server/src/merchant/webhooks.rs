//! Delivers queued webhook events: claim due rows with a lease (so several processes never send
//! one event at the same time), POST each signed, record the outcome, and retry failures with
//! backoff until the event's deadline. A merchant that answers 2xx has the event.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::app::App;
use crate::merchant::auth::hmac_hex;
use crate::sms::dispatcher::backoff_ms;
use crate::store::db::write_transaction;
use crate::store::schema::{merchants, webhook_events};
use crate::store::{blocking, checkout, AnyConnection, StoreError};
use crate::with_conn;

pub const SIGNATURE_HEADER: &str = "Mkoba-Signature";

#[derive(Clone, Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = webhook_events)]
pub struct EventRow {
    pub id: i64,
    pub merchant_id: i64,
    pub event_type: String,
    pub payload: String,
    pub attempts: i32,
    pub deadline_at: i64,
}

/// `t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, as merchants verify it.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mac = hmac_hex(
        secret.as_bytes(),
        &[timestamp.to_string().as_bytes(), b".", body.as_bytes()],
    );
    format!("t={timestamp},v1={mac}")
}

fn claim(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    match conn {
        AnyConnection::Postgres(c) => Ok(diesel::sql_query(
            "UPDATE webhook_events SET claimed_until = $1 \
             WHERE id IN (SELECT id FROM webhook_events \
               WHERE status = 'queued' AND next_attempt_at <= $2 \
                 AND (claimed_until IS NULL OR claimed_until < $2) \
               ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, merchant_id, event_type, payload, attempts, deadline_at",
        )
        .bind::<BigInt, _>(lease_until)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(limit)
        .load::<EventRow>(c)?),
        AnyConnection::Sqlite(_) => write_transaction(conn, |conn| {
            let due = webhook_events::status
                .eq("queued")
                .and(webhook_events::next_attempt_at.le(now))
                .and(
                    webhook_events::claimed_until
                        .is_null()
                        .or(webhook_events::claimed_until.lt(now)),
                );
            let ids: Vec<i64> = with_conn!(&mut *conn, |c| webhook_events::table
                .filter(due)
                .order(webhook_events::next_attempt_at)
                .limit(limit)
                .select(webhook_events::id)
                .load(c))?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            with_conn!(&mut *conn, |c| diesel::update(
                webhook_events::table.filter(webhook_events::id.eq_any(&ids))
            )
            .set(webhook_events::claimed_until.eq(Some(lease_until)))
            .execute(c))?;
            Ok(with_conn!(&mut *conn, |c| webhook_events::table
                .filter(webhook_events::id.eq_any(&ids))
                .select(EventRow::as_select())
                .load(c))?)
        }),
    }
}

enum Delivery {
    Delivered,
    Failed {
        error: String,
        retry_after: Option<Duration>,
    },
}

async fn deliver(app: &App, client: &reqwest::Client, event: &EventRow) -> Delivery {
    let app_pool = app.pool.clone();
    let merchant_id = event.merchant_id;
    let target = blocking(move || {
        let mut conn = checkout(&app_pool)?;
        Ok(with_conn!(&mut *conn, |c| merchants::table
            .filter(merchants::id.eq(merchant_id))
            .select((merchants::webhook_url, merchants::signing_secret))
            .first::<(Option<String>, Option<String>)>(c))?)
    })
    .await;
    let (url, secret) = match target {
        Ok((Some(url), Some(secret))) => (url, secret),
        Ok(_) => {
            return Delivery::Failed {
                error: "merchant has no webhook URL or signing secret".into(),
                retry_after: None,
            }
        }
        Err(e) => {
            return Delivery::Failed {
                error: e.to_string(),
                retry_after: None,
            }
        }
    };
    let timestamp = app.clock.now().0 / 1_000_000;
    let sent = client
        .post(&url)
        .header("content-type", "application/json")
        .header(
            SIGNATURE_HEADER,
            signature(&secret, timestamp, &event.payload),
        )
        .header("Mkoba-Event", event.event_type.as_str())
        .body(event.payload.clone())
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => Delivery::Delivered,
        Ok(response) => Delivery::Failed {
            error: format!("HTTP {}", response.status().as_u16()),
            retry_after: response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        Err(e) => Delivery::Failed {
            error: if e.is_timeout() {
                "timeout".into()
            } else {
                "connection failed".into()
            },
            retry_after: None,
        },
    }
}

/// One round: claim, deliver, record. Returns how many events were attempted.
pub async fn dispatch_once(app: &Arc<App>, client: &reqwest::Client) -> Result<usize, StoreError> {
    let cfg = &app.config.merchant_api;
    let now = app.clock.now().0;
    let lease = now.saturating_add(
        i64::try_from(cfg.webhook_timeout_ms)
            .unwrap_or(60_000)
            .saturating_mul(3_000),
    );
    let limit = cfg.webhook_batch_max;
    let pool = app.pool.clone();
    let events = blocking(move || claim(&mut *checkout(&pool)?, now, lease, limit)).await?;
    let count = events.len();
    for event in events {
        let outcome = deliver(app, client, &event).await;
        let now = app.clock.now().0;
        let pool = app.pool.clone();
        let (base, max) = (cfg.webhook_retry_base_ms, cfg.webhook_retry_max_ms);
        blocking(move || {
            let mut conn = checkout(&pool)?;
            let row = webhook_events::table.filter(webhook_events::id.eq(event.id));
            match outcome {
                Delivery::Delivered => with_conn!(&mut *conn, |c| diesel::update(row)
                    .set((
                        webhook_events::status.eq("delivered"),
                        webhook_events::attempts.eq(event.attempts.saturating_add(1)),
                        webhook_events::delivered_at.eq(Some(now)),
                        webhook_events::claimed_until.eq(None::<i64>),
                    ))
                    .execute(c))?,
                Delivery::Failed { error, retry_after } => {
                    let attempts = event.attempts.saturating_add(1);
                    let wait = backoff_ms(attempts, base, max, retry_after);
                    let next = now.saturating_add(
                        i64::try_from(wait)
                            .unwrap_or(i64::MAX / 1_000)
                            .saturating_mul(1_000),
                    );
                    let status = if next > event.deadline_at {
                        "failed"
                    } else {
                        "queued"
                    };
                    let error: String = error.chars().take(500).collect();
                    with_conn!(&mut *conn, |c| diesel::update(row)
                        .set((
                            webhook_events::status.eq(status),
                            webhook_events::attempts.eq(attempts),
                            webhook_events::next_attempt_at.eq(next),
                            webhook_events::last_error.eq(Some(&error)),
                            webhook_events::claimed_until.eq(None::<i64>),
                        ))
                        .execute(c))?
                }
            };
            Ok(())
        })
        .await?;
    }
    Ok(count)
}

/// Runs the dispatcher until the process ends.
pub fn spawn(app: &Arc<App>) {
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let timeout = Duration::from_millis(app.config.merchant_api.webhook_timeout_ms);
        let client = match reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook client could not start");
                return;
            }
        };
        let idle = Duration::from_millis(app.config.merchant_api.webhook_poll_interval_ms);
        loop {
            match dispatch_once(&app, &client).await {
                Ok(0) => tokio::time::sleep(idle).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "webhook dispatch round failed");
                    tokio::time::sleep(idle).await;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let a = signature("whsec", 1_700_000_000, "{\"a\":1}");
        assert!(a.starts_with("t=1700000000,v1="));
        assert_ne!(a, signature("whsec", 1_700_000_001, "{\"a\":1}"));
        assert_ne!(a, signature("whsec", 1_700_000_000, "{\"a\":2}"));
        assert_ne!(a, signature("other", 1_700_000_000, "{\"a\":1}"));
    }
}
